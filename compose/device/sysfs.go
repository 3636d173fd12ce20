package device

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// node is one entry of /sys/class/block: a disk, a partition, a dm or md
// device.
type node struct {
	name    string
	devnum  string // "8:17"
	parent  string // disk of a partition, "" for a disk
	slaves  []string
	holders []string
	udev    map[string]string
	mounts  []string // mountpoints, "via dm-0" noted
	swap    bool
	system  bool
}

// snapshot is everything List needs, read once.
type snapshot struct {
	root  Root
	nodes map[string]*node
	byNum map[string]string // "8:17" → "sdb1"
}

// systemMounts are the mountpoints whose disk holds the running system.
var systemMounts = map[string]bool{"/": true, "/boot": true, "/boot/efi": true, "/efi": true}

func readSnapshot(root Root) (*snapshot, error) {
	s := &snapshot{root: root, nodes: map[string]*node{}, byNum: map[string]string{}}
	if err := s.readNodes(); err != nil {
		return nil, err
	}
	if err := s.readMounts(); err != nil {
		return nil, err
	}
	if err := s.readSwaps(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *snapshot) readNodes() error {
	dir := s.root.sys("class", "block")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing block devices: %w", err)
	}
	for _, e := range ents {
		n := &node{name: e.Name()}
		n.devnum = readAttr(filepath.Join(dir, n.name, "dev"))
		if fileExists(filepath.Join(dir, n.name, "partition")) {
			// The partition's real sysfs directory sits inside its disk's.
			if real, err := filepath.EvalSymlinks(filepath.Join(dir, n.name)); err == nil {
				n.parent = filepath.Base(filepath.Dir(real))
			}
		}
		n.slaves = listNames(filepath.Join(dir, n.name, "slaves"))
		n.holders = listNames(filepath.Join(dir, n.name, "holders"))
		n.udev = readUdev(filepath.Join(s.root.Udev, "b"+n.devnum))
		s.nodes[n.name] = n
		if n.devnum != "" {
			s.byNum[n.devnum] = n.name
		}
	}
	s.linkLoops(dir)
	return nil
}

// linkLoops treats a loop device backed by another block device (as
// "mount -o offset=…" makes) as a holder of it: sysfs does not say so.
func (s *snapshot) linkLoops(dir string) {
	for _, n := range s.nodes {
		back := readAttr(filepath.Join(dir, n.name, "loop", "backing_file"))
		if !strings.HasPrefix(back, "/dev/") {
			continue
		}
		if lower, ok := s.nodes[s.nameOfPath(back)]; ok {
			lower.holders = append(lower.holders, n.name)
			n.slaves = append(n.slaves, lower.name)
		}
	}
}

// readMounts attaches each mount to its device and to every device below
// it (the slaves of a dm/md device, recursively).
func (s *snapshot) readMounts() error {
	path := filepath.Join(s.root.Proc, "self", "mountinfo")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		name, ok := s.byNum[fields[2]]
		if !ok {
			continue
		}
		mp := unescapeMount(fields[4])
		s.walkDown(name, func(n *node, via bool) {
			text := mp
			if via {
				text = mp + " (via " + name + ")"
			}
			n.mounts = append(n.mounts, text)
			if systemMounts[mp] {
				n.system = true
			}
		})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

func (s *snapshot) readSwaps() error {
	data, err := os.ReadFile(filepath.Join(s.root.Proc, "swaps"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading swaps: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	for _, line := range lines[min(1, len(lines)):] {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[1] != "partition" {
			continue // swap files live on a mounted file system, caught as mounted
		}
		name := s.nameOfPath(unescapeMount(fields[0]))
		s.walkDown(name, func(n *node, _ bool) { n.swap = true })
	}
	return nil
}

// nameOfPath maps a /dev path to a kernel name: by device number where the
// node exists, else by its base name (fixtures have no device nodes).
func (s *snapshot) nameOfPath(p string) string {
	if num, ok := devnumOf(p); ok {
		if name, ok := s.byNum[num]; ok {
			return name
		}
	}
	return filepath.Base(p)
}

// walkDown calls fn for name and every device it is built on; via tells
// the callback whether it is looking at a lower device.
func (s *snapshot) walkDown(name string, fn func(n *node, via bool)) {
	seen := map[string]bool{}
	var walk func(string, bool)
	walk = func(nm string, via bool) {
		n, ok := s.nodes[nm]
		if !ok || seen[nm] {
			return
		}
		seen[nm] = true
		fn(n, via)
		for _, sl := range n.slaves {
			walk(sl, true)
		}
	}
	walk(name, false)
}

func readAttr(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readInt(path string) int64 {
	v, err := strconv.ParseInt(readAttr(path), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func listNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// readUdev reads the E: properties of one udev database entry.
func readUdev(path string) map[string]string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	props := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		kv, ok := strings.CutPrefix(line, "E:")
		if !ok {
			continue
		}
		if k, v, ok := strings.Cut(kv, "="); ok {
			props[k] = v
		}
	}
	return props
}

// unescapeMount undoes the octal escapes (\040 for space) of mountinfo and
// swaps.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
