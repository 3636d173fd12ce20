package disk

import "fmt"

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
	gib = int64(1) << 30

	sectorSize = 512
	// fat32MinClusters: below this count firmware and Linux take a volume
	// for FAT16 whatever its BPB says.
	fat32MinClusters = 65525
	fatReserved      = 32 // reserved sectors go-diskfs v1.9.4 uses
	maxFATFile       = 4*gib - 1
)

// FATGeometry is the FAT32 layout go-diskfs v1.9.4 produces for a volume
// size, recomputed here so Layout can check it before writing.
type FATGeometry struct {
	TotalSectors      uint32
	SectorsPerCluster uint32
	ClusterSize       int64
	ReservedSectors   uint32
	FATSectors        uint32 // per FAT; there are two
	FATEntries        uint32 // entries one FAT holds
	Clusters          uint32 // data clusters
	VolumeID          uint32
}

// DataBytes is the room for clusters.
func (g FATGeometry) DataBytes() int64 { return int64(g.Clusters) * g.ClusterSize }

// fatClusterSize mirrors go-diskfs v1.9.4's table (fat32.Create).
func fatClusterSize(size int64) int64 {
	switch {
	case size <= 260*mib:
		return 512
	case size <= 8*gib:
		return 4 * kib
	case size <= 16*gib:
		return 8 * kib
	case size <= 32*gib:
		return 16 * kib
	}
	return 32 * kib
}

// fatGeometry computes go-diskfs v1.9.4's FAT32 layout for size bytes and
// reports whether it is usable: a FAT big enough for every cluster (the
// library's closed form drops a "+2 clusters" term, so at some sizes — 64
// MiB, 4 GiB, 16 GiB, 32 GiB disks among them — the FAT is two entries short
// and fsck.fat fails), enough clusters to be FAT32 at all, and a FAT length
// that fits the library's uint16.
func fatGeometry(size int64) (FATGeometry, error) {
	cs := fatClusterSize(size)
	spc := uint32(cs / sectorSize)
	total := uint32(size / sectorSize)
	denom := uint32(sectorSize)*spc + 8
	fatSectors := (4*(total-fatReserved) + denom - 1) / denom
	g := FATGeometry{
		TotalSectors: total, SectorsPerCluster: spc, ClusterSize: cs,
		ReservedSectors: fatReserved, FATSectors: fatSectors,
		FATEntries: fatSectors * sectorSize / 4,
	}
	if fatSectors > 0xffff {
		return g, fmt.Errorf("FAT32 volume of %d bytes is beyond go-diskfs's 16-bit FAT length", size)
	}
	g.Clusters = (total - fatReserved - 2*fatSectors) / spc
	if g.Clusters < fat32MinClusters {
		return g, fmt.Errorf("FAT32 volume of %d bytes has %d clusters, fewer than FAT32's minimum %d", size, g.Clusters, fat32MinClusters)
	}
	if g.FATEntries < g.Clusters+2 {
		return g, fmt.Errorf("go-diskfs v1.9.4 would write a FAT of %d entries for %d clusters (needs %d)", g.FATEntries, g.Clusters, g.Clusters+2)
	}
	return g, nil
}

// fatNeed is the cluster room files and directories take at cluster size cs.
// Empty files count one cluster: go-diskfs allocates one before fatfix frees it.
func fatNeed(files []File, cs int64) int64 {
	var n int64
	for _, f := range files {
		n += max(1, ceilDiv(f.size(), cs)) * cs
	}
	for _, entries := range fatDirEntries(files) {
		// each entry: its 8.3 slot plus up to 20 long-name slots (255/13)
		n += ceilDiv(entries*32, cs) * cs
	}
	return n
}

// fatDirEntries returns, per directory (root included), the number of
// 32-byte slots its entries take, counting long-name slots, "." and "..",
// and the volume label in the root.
func fatDirEntries(files []File) map[string]int64 {
	dirs := map[string]int64{"/": 1}
	seen := map[string]bool{}
	for _, f := range files {
		p := f.Path
		for p != "/" {
			parent := parentDir(p)
			if seen[p] {
				break
			}
			seen[p] = true
			dirs[parent] += 1 + ceilDiv(int64(len(baseName(p))), 13)
			if p != f.Path {
				dirs[p] += 2
			}
			p = parent
		}
	}
	return dirs
}

// smallestFAT finds the smallest MiB-multiple volume size at least from
// whose geometry is valid and holds need(clusterSize) bytes of clusters.
//
// The need depends only on the cluster size, so it is computed once per
// size; and no volume is smaller than its need at the smallest cluster, so
// the search starts there: 10,000 ISOs take a handful of steps, not one
// full pass over the files per MiB.
func smallestFAT(files []File, from int64) (int64, FATGeometry) {
	needs := map[int64]int64{}
	need := func(cs int64) int64 {
		n, ok := needs[cs]
		if !ok {
			n = fatNeed(files, cs)
			needs[cs] = n
		}
		return n
	}
	s := alignUp(max(from, mib, need(sectorSize)), mib)
	for {
		g, err := fatGeometry(s)
		if err == nil && g.DataBytes() >= need(g.ClusterSize)+fatSlack*g.ClusterSize {
			return s, g
		}
		s += mib
	}
}

// fatSlack clusters stay free: go-diskfs allocates past the data area when
// a volume is completely full (it scans FAT entries, not clusters).
const fatSlack = 4

// largestFAT finds the largest MiB-multiple size at most upto with a valid
// geometry (stepping down past the sizes go-diskfs gets wrong).
func largestFAT(upto int64) (int64, FATGeometry, error) {
	for s := alignDown(upto, mib); s >= 32*mib; s -= mib {
		if g, err := fatGeometry(s); err == nil {
			return s, g, nil
		}
	}
	return 0, FATGeometry{}, fmt.Errorf("no valid FAT32 geometry at or below %d bytes", upto)
}

func ceilDiv(a, b int64) int64   { return (a + b - 1) / b }
func alignUp(a, b int64) int64   { return ceilDiv(a, b) * b }
func alignDown(a, b int64) int64 { return a / b * b }

func parentDir(p string) string {
	i := len(p) - 1
	for i > 0 && p[i] != '/' {
		i--
	}
	if i == 0 {
		return "/"
	}
	return p[:i]
}

func baseName(p string) string {
	i := len(p) - 1
	for i >= 0 && p[i] != '/' {
		i--
	}
	return p[i+1:]
}
