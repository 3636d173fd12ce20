package device

import (
	"os"
	"path/filepath"
	"strings"
)

// BackedBy returns the loop devices of root whose backing file is the file
// fi describes (the same file, by device and inode: a loop set up through
// another path or a hard link counts). A kit image attached to a loop
// device whose file system is mounted must not be changed under the
// kernel: its cached view is written back over the change.
func BackedBy(root Root, fi os.FileInfo) ([]Device, error) {
	if !supported {
		return nil, nil
	}
	root = root.orHost()
	var names []string
	for _, name := range listNames(root.sys("block")) {
		if !strings.HasPrefix(name, "loop") {
			continue
		}
		backing := strings.TrimSuffix(readAttr(root.sys("block", name, "loop", "backing_file")), " (deleted)")
		if backing == "" {
			continue
		}
		if bfi, err := os.Stat(filepath.Clean(backing)); err == nil && os.SameFile(bfi, fi) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	s, err := readSnapshot(root)
	if err != nil {
		return nil, err
	}
	var out []Device
	for _, name := range names {
		out = append(out, s.device(name))
	}
	return out, nil
}

// InUse lists what keeps a device busy: its and its partitions' mounts
// ("/dev/loop4p2 on /mnt") and the dm/md devices built on them.
func (d Device) InUse() []string {
	out := mounted(d)
	if len(d.Holders) > 0 {
		out = append(out, d.Path+" held by "+strings.Join(d.Holders, ", "))
	}
	for _, p := range d.Partitions {
		if len(p.Holders) > 0 {
			out = append(out, p.Path+" held by "+strings.Join(p.Holders, ", "))
		}
	}
	return out
}
