package bootloader

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// PersistenceFS is the filesystem every persistence partition gets: each family's
// initramfs mounts it (live-boot and casper by blkid's type, dracut with -t auto, archiso
// by default), and it survives a power cut mid-write.
const PersistenceFS = "ext4"

// Persistence is the storage one entry keeps its changes on, as its family's initramfs
// finds it: an ext4 filesystem of its own, on a partition compose never rewrites.
type Persistence struct {
	// Label is the ext4 filesystem label the initramfs looks for (at most 16 bytes). It is
	// derived from the entry's ID alone, so adding, removing or reordering other entries
	// never changes it.
	Label string `json:"label"`
	// Name is the GPT partition name (live-boot matches it before the filesystem label).
	Name string `json:"partition_name"`
	// Files are written into the fresh filesystem (live-boot: /persistence.conf).
	Files []File `json:"files,omitempty"`
	// Dirs are empty directories the fresh filesystem needs, mode 0755 (dracut's
	// overlayfs: the upper and work directories, which it does not create).
	Dirs []string `json:"dirs,omitempty"`
	// Args are the kernel arguments the entry's menu line gets.
	Args []string `json:"args"`
}

// PersistRequest asks for persistence for the entry ID, booted as Boot says.
type PersistRequest struct {
	ID   string
	Boot Detection
}

// PersistenceError says why an entry cannot have persistence: its family has no
// persistence contract, or the storage its family reads is taken by another entry.
type PersistenceError struct {
	ID     string
	Family Family
	Reason string
}

func (e *PersistenceError) Error() string {
	return fmt.Sprintf("entry %q (boot family %s): %s", e.ID, e.Family, e.Reason)
}

// persistIDRe is the manifest's entry names: labels made of them need no quoting on a
// kernel command line, under /dev/disk/by-label, or in live-boot's comma-separated and
// dracut's colon-separated arguments.
var persistIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// maxLabel is ext4's volume label size (s_volume_name, 16 bytes).
const maxLabel = 16

// Label scheme: "p-" and the ID when it fits; a longer ID keeps its first characters
// (without a trailing "-") and ends in "_" and a hash of the whole ID. IDs never hold "_" (manifest names are
// [a-z0-9-]), so a shortened label never equals a whole one.
const (
	labelPrefix = "p-"
	labelHash   = 6 // hex digits of sha256(ID): 24 bits
)

// PersistenceLabel is the filesystem label entry id's persistence gets in every family
// that reads a label of compose's choosing (all but casper, which reads "writable").
func PersistenceLabel(id string) string {
	if len(labelPrefix)+len(id) <= maxLabel {
		return labelPrefix + id
	}
	sum := sha256.Sum256([]byte(id))
	keep := maxLabel - len(labelPrefix) - 1 - labelHash
	return labelPrefix + strings.TrimRight(id[:keep], "-") + "_" + hex.EncodeToString(sum[:])[:labelHash]
}

// casperLabel is the filesystem label casper mounts as its writable layer.
const casperLabel = "writable"

// archisoCowDir is archiso's cow_directory: the same for every release of the ISO, so a
// replaced ISO finds the changes the previous one kept.
const archisoCowDir = "persistent"

// PersistentFamilies are the families with a persistence contract.
var PersistentFamilies = []Family{Casper, Live, Dracut, Archiso}

// AssignPersistence gives every request its storage, keyed by ID. It fails with a
// *PersistenceError for a family without a persistence contract, for a second casper
// entry (casper reads the one filesystem labelled writable), and for two IDs whose labels
// meet (a hash collision of shortened IDs: renaming one entry settles it).
func AssignPersistence(reqs []PersistRequest) (map[string]Persistence, error) {
	out := make(map[string]Persistence, len(reqs))
	byLabel := map[string]string{}
	for _, r := range reqs {
		if _, dup := out[r.ID]; dup || !persistIDRe.MatchString(r.ID) {
			return nil, &PersistenceError{ID: r.ID, Family: r.Boot.Family, Reason: "repeated entry id, or not one of [a-z0-9-] starting with a letter or digit"}
		}
		p, err := persistenceFor(r)
		if err != nil {
			return nil, err
		}
		if other, taken := byLabel[p.Label]; taken {
			return nil, &PersistenceError{ID: r.ID, Family: r.Boot.Family, Reason: labelTaken(p.Label, other, r.Boot.Family)}
		}
		byLabel[p.Label] = r.ID
		out[r.ID] = p
	}
	return out, nil
}

func labelTaken(label, other string, f Family) string {
	if f == Casper {
		return fmt.Sprintf("entry %q already has casper persistence; casper reads the one filesystem labelled %s, so a stick holds one", other, label)
	}
	return fmt.Sprintf("its persistence label %s is also entry %q's; rename one of them", label, other)
}

func persistenceFor(r PersistRequest) (Persistence, error) {
	label := PersistenceLabel(r.ID)
	switch r.Boot.Family {
	case Live:
		// live-boot 1:20230131 (Debian 12): find_persistence_media matches the GPT name,
		// then the filesystem label, on every partition but the one holding the ISO
		// (/run/live/findiso is black-listed), and reads /persistence.conf at the
		// filesystem's top. persistence-storage=filesystem keeps it from mounting the
		// stick's other partitions read-write to look for a file of that name.
		return Persistence{Label: label, Name: label,
			Files: []File{{Path: "/persistence.conf", Data: []byte("/ union\n")}},
			Args:  []string{"persistence", "persistence-label=" + label, "persistence-storage=filesystem"}}, nil
	case Dracut:
		// dracut 059 dmsquash-live-root.sh: with rd.live.overlay.overlayfs=1 the overlay
		// is the directory <path> and <path>/../ovlwork on <devspec>, both existing (it
		// creates neither, and without them falls back to a temporary overlay after an
		// "Unable to find a persistent overlay" prompt). The default path names the ISO's
		// label and UUID, which change when the ISO is replaced, so the path is given.
		// dmsquash-live-autooverlay, where an image has it, makes a partition only when the
		// live root is partition 1 of a disk; with iso-scan the root is a loop device.
		return Persistence{Label: label, Name: label, Dirs: []string{"/overlayfs", "/ovlwork"},
			Args: []string{"rd.live.overlay=LABEL=" + label + ":/overlayfs", "rd.live.overlay.overlayfs=1"}}, nil
	case Casper:
		// casper 1.4xx: persistent mounts /dev/disk/by-label/writable (casper-rw when no
		// writable exists) and creates upper/ and work/ in it itself.
		return Persistence{Label: casperLabel, Name: casperLabel, Args: []string{"persistent"}}, nil
	case Archiso:
		// archiso's initcpio hook: cow_label=L mounts /dev/disk/by-label/L and creates
		// <cow_directory>/upperdir and workdir. The default cow_directory names the ISO's
		// archisolabel (persistent_ARCH_202401/x86_64), which changes with every release.
		return Persistence{Label: label, Name: label, Args: []string{"cow_label=" + label, "cow_directory=" + archisoCowDir}}, nil
	}
	return Persistence{}, &PersistenceError{ID: r.ID, Family: r.Boot.Family, Reason: noContract(r.Boot.Family)}
}

func noContract(f Family) string {
	if f == LoopbackCfg {
		return "an ISO booted through its own loopback.cfg takes no extra kernel arguments; set boot: to its family (archiso, casper, dracut or live) to give it persistence"
	}
	names := make([]string, len(PersistentFamilies))
	for i, p := range PersistentFamilies {
		names[i] = string(p)
	}
	sort.Strings(names)
	return fmt.Sprintf("the %s family has no persistence contract (persistence works with %s)", f, strings.Join(names, ", "))
}

// persistArgs are p's arguments that args does not hold yet (dracut's entry already
// passes rd.live.overlay.overlayfs=1).
func persistArgs(p *Persistence, args []arg) []arg {
	if p == nil {
		return nil
	}
	var out []arg
	for _, a := range p.Args {
		if !slices.ContainsFunc(args, func(x arg) bool { return x.s == a }) {
			out = append(out, arg{a, false})
		}
	}
	return out
}

func validatePersistence(e Entry) error {
	if e.Persistence == nil {
		return nil
	}
	if !slices.Contains(PersistentFamilies, e.Boot.Family) {
		return fmt.Errorf("menu entry %q: %w", e.ID, &PersistenceError{ID: e.ID, Family: e.Boot.Family, Reason: noContract(e.Boot.Family)})
	}
	return nil
}
