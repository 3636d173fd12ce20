package fatedit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/usbkit/compose/compose/internal/edit"
)

// ErrNoSpace is returned (wrapped, with the numbers) when the new contents
// do not fit beside the old ones.
var ErrNoSpace = errors.New("not enough free space on the FAT32 volume")

// ErrUnsupported is returned (wrapped) for a volume whose root directory
// Update cannot rewrite in its single commit write.
var ErrUnsupported = errors.New("volume layout not supported for in-place updates")

type syncer interface{ Sync() error }

type updater struct {
	v       *Volume
	fat     []uint32
	opt     edit.Options
	st      edit.Stats
	cp      edit.Copier
	rootLen int64
}

// Update applies changes in the crash-safe order the package documents.
func (v *Volume) Update(ctx context.Context, changes []edit.Change, opt edit.Options) (edit.Stats, error) {
	u := &updater{v: v, fat: slices.Clone(v.fat), opt: opt, st: edit.Stats{SHA256: map[string]string{}}, cp: edit.Copier{Opt: opt}}
	rootCh, err := v.chain(v.root.first)
	if err != nil {
		return u.st, err
	}
	if rs := runs(rootCh); len(rs) != 1 || rs[0].first != 2 {
		return u.st, fmt.Errorf("%w: the root directory is not one run at the start of the data area", ErrUnsupported)
	}
	u.rootLen = int64(len(rootCh)) * v.cs
	tree := clone(v.root)
	for _, c := range changes {
		if err := u.edit(tree, c); err != nil {
			return u.st, err
		}
	}
	dirs := subdirs(tree)
	if err := u.checkSpace(tree, dirs); err != nil {
		return u.st, err
	}
	if err := u.writeFiles(ctx, tree); err != nil {
		return u.st, err
	}
	root, err := u.writeDirs(tree, dirs)
	if err != nil {
		return u.st, err
	}
	u.freeOld(v.root, tree)
	if err := u.commit(root); err != nil {
		return u.st, err
	}
	v.fat, v.root = u.fat, tree
	return u.st, nil
}

func clone(n *node) *node {
	c := *n
	c.slots = bytes.Clone(n.slots)
	c.kids = nil
	for _, k := range n.kids {
		c.kids = append(c.kids, clone(k))
	}
	return &c
}

func (u *updater) edit(tree *node, c edit.Change) error {
	parts := strings.Split(strings.Trim(c.Path, "/"), "/")
	if c.Path == "" || c.Path[0] != '/' || slices.Contains(parts, "") {
		return fmt.Errorf("%q: not an absolute file path", c.Path)
	}
	d := tree
	for i, name := range parts {
		k := child(d, name)
		last := i == len(parts)-1
		switch {
		case last && c.Remove:
			if k != nil && !k.dir {
				d.kids = slices.DeleteFunc(d.kids, func(n *node) bool { return n == k })
			}
			return nil
		case last && k != nil && k.dir:
			return fmt.Errorf("%s: is a directory on the volume", c.Path)
		case last:
			if c.Size < 0 || c.Size > 1<<32-1 {
				return fmt.Errorf("%s: %d bytes does not fit FAT32", c.Path, c.Size)
			}
			if k == nil {
				k = &node{name: name, path: join(d.path, name)}
				d.kids = append(d.kids, k)
			}
			k.size, k.first = c.Size, 0
			k.content = &c
		case k == nil && c.Remove:
			return nil
		case k == nil:
			k = &node{name: name, path: join(d.path, name), dir: true}
			d.kids = append(d.kids, k)
		case !k.dir:
			return fmt.Errorf("%s: %s is a file on the volume", c.Path, k.path)
		}
		d = k
	}
	return nil
}

func join(dir, name string) string { return strings.TrimSuffix(dir, "/") + "/" + name }

func child(d *node, name string) *node {
	for _, k := range d.kids {
		if strings.EqualFold(k.name, name) {
			return k
		}
	}
	return nil
}

func subdirs(root *node) []*node {
	var out []*node
	var walk func(*node)
	walk = func(d *node) {
		for _, k := range d.kids {
			if k.dir {
				out = append(out, k)
				walk(k)
			}
		}
	}
	walk(root)
	return out
}

func (u *updater) clustersFor(n int64) int64 { return (n + u.v.cs - 1) / u.v.cs }

// dirBytes is the size of a directory's entries: ".", "..", every child
// and an end marker.
func dirBytes(d *node) int64 {
	n := int64(3 * slot)
	if d.path == "/" {
		n = slot + int64(len(d.label))
	}
	for _, k := range d.kids {
		if k.slots != nil {
			n += int64(len(k.slots))
		} else {
			n += int64((len(utf16.Encode([]rune(k.name)))+12)/13+1) * slot
		}
	}
	return n
}

func (u *updater) checkSpace(tree *node, dirs []*node) error {
	var need int64
	walkFiles(tree, func(n *node) {
		if n.content != nil {
			need += u.clustersFor(n.size)
			u.cp.Total += n.size
		}
	})
	for _, d := range dirs {
		need += max(1, u.clustersFor(dirBytes(d)))
	}
	if rb := dirBytes(tree); rb > u.rootLen {
		return fmt.Errorf("%w: the root directory needs %d bytes and has %d", ErrUnsupported, rb, u.rootLen)
	}
	var free int64
	for _, e := range u.fat[2:] {
		if e == 0 {
			free++
		}
	}
	if need > free {
		return fmt.Errorf("%w: the new files and directories need %d bytes beside the old ones, %d are free", ErrNoSpace, need*u.v.cs, free*u.v.cs)
	}
	return nil
}

func walkFiles(d *node, f func(*node)) {
	for _, k := range d.kids {
		if k.dir {
			walkFiles(k, f)
		} else {
			f(k)
		}
	}
}

// alloc takes n clusters free in the new FAT, one contiguous run if there
// is one, and links them.
func (u *updater) alloc(n int64) []uint32 {
	var ch []uint32
	start, l := uint32(0), int64(0)
	for c := uint32(2); c < uint32(len(u.fat)) && l < n; c++ {
		if u.fat[c] != 0 {
			l = 0
			continue
		}
		if l == 0 {
			start = c
		}
		l++
	}
	if l == n {
		for i := int64(0); i < n; i++ {
			ch = append(ch, start+uint32(i))
		}
	} else {
		for c := uint32(2); c < uint32(len(u.fat)) && int64(len(ch)) < n; c++ {
			if u.fat[c] == 0 {
				ch = append(ch, c)
			}
		}
	}
	for i, c := range ch {
		if i+1 < len(ch) {
			u.fat[c] = ch[i+1]
		} else {
			u.fat[c] = fatMask
		}
	}
	return ch
}

func (u *updater) writeAt(b []byte, off int64) error {
	n, err := u.v.dev.WriteAt(b, u.v.off+off)
	u.st.Written += int64(n)
	return err
}

func (u *updater) writeFiles(ctx context.Context, tree *node) error {
	var err error
	walkFiles(tree, func(n *node) {
		if err == nil && n.content != nil {
			err = u.writeFile(ctx, n)
		}
	})
	return err
}

func (u *updater) writeFile(ctx context.Context, n *node) error {
	r, err := n.content.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", n.path, err)
	}
	defer r.Close()
	ch := u.alloc(u.clustersFor(n.size))
	if len(ch) > 0 {
		n.first = ch[0]
	}
	var ext []edit.Extent
	for _, rn := range runs(ch) {
		ext = append(ext, edit.Extent{Off: u.v.clusterOff(rn.first), Len: int64(rn.n) * u.v.cs})
	}
	sum, err := u.cp.Copy(ctx, n.path, n.size, r, ext, 1, u.writeAt)
	if err != nil {
		return err
	}
	u.st.SHA256[n.path] = sum
	n.content = nil
	return nil
}

// writeDirs gives every directory below the root new clusters and writes
// it there; it returns the root's new content.
func (u *updater) writeDirs(tree *node, dirs []*node) ([]byte, error) {
	chains := map[*node][]uint32{}
	for _, d := range dirs {
		chains[d] = u.alloc(max(1, u.clustersFor(dirBytes(d))))
		d.first = chains[d][0]
	}
	var walkErr error
	var walk func(d, parent *node)
	walk = func(d, parent *node) {
		for _, k := range d.kids {
			if !k.dir || walkErr != nil {
				continue
			}
			buf := u.serialize(k, parent0(d), int64(len(chains[k]))*u.v.cs)
			off := 0
			for _, rn := range runs(chains[k]) {
				l := int(int64(rn.n) * u.v.cs)
				if err := u.writeAt(buf[off:off+l], u.v.clusterOff(rn.first)); err != nil {
					walkErr = fmt.Errorf("writing directory %s: %w", k.path, err)
					return
				}
				off += l
			}
			walk(k, d)
		}
	}
	walk(tree, nil)
	if walkErr != nil {
		return nil, walkErr
	}
	return u.serialize(tree, 0, u.rootLen), nil
}

// parent0 is the cluster a ".." entry names: 0 for the root.
func parent0(d *node) uint32 {
	if d.path == "/" {
		return 0
	}
	return d.first
}

func (u *updater) serialize(d *node, parent uint32, size int64) []byte {
	buf := make([]byte, 0, size)
	t := u.opt.Time
	if t.IsZero() {
		t = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if d.path == "/" {
		buf = append(buf, d.label...)
	} else {
		for i, c := range []uint32{d.first, parent} {
			e := make([]byte, slot)
			copy(e, strings.Repeat(".", i+1)+strings.Repeat(" ", 10-i))
			e[11] = 0x10
			Stamp(e, t)
			setEntry(e, c, 0)
			buf = append(buf, e...)
		}
	}
	taken := map[string]bool{}
	for _, k := range d.kids {
		if k.slots != nil {
			taken[string(k.slots[len(k.slots)-slot:][:11])] = true
		}
	}
	for _, k := range d.kids {
		if k.slots == nil {
			k.slots = makeSlots(k.name, Alias(k.name, taken), k.dir, t)
		}
		size := k.size
		if k.dir {
			size = 0
		}
		setEntry(k.slots[len(k.slots)-slot:], k.first, size)
		buf = append(buf, k.slots...)
	}
	return append(buf, make([]byte, int(size)-len(buf))...)
}

// freeOld frees, in the new FAT, every old directory but the root and
// every old file chain the new tree no longer uses.
func (u *updater) freeOld(old, tree *node) {
	kept := map[uint32]bool{}
	walkFiles(tree, func(n *node) { kept[n.first] = true })
	var walk func(*node)
	walk = func(d *node) {
		for _, k := range d.kids {
			if k.dir {
				walk(k)
			}
			if (k.dir || !kept[k.first]) && k.first != 0 {
				ch, _ := u.v.chain(k.first) // valid: Open and lookups walked it
				for _, c := range ch {
					u.fat[c] = 0
				}
			}
		}
	}
	walk(old)
}

// commit writes the FAT changes and the new root in one write, with the
// FSInfo count made unknown before and recounted after.
func (u *updater) commit(root []byte) error {
	v := u.v
	lo := -1
	for i := range u.fat {
		if u.fat[i] != v.fat[i] {
			lo = i
			break
		}
	}
	if err := u.fsinfo(0xFFFFFFFF); err != nil {
		return err
	}
	if err := u.sync(); err != nil {
		return err
	}
	start := v.data
	if lo >= 0 {
		start = v.fat1 + int64(4*lo)/v.bps*v.bps
	}
	buf := make([]byte, v.data+u.rootLen-start)
	if _, err := v.dev.ReadAt(buf, v.off+start); err != nil {
		return fmt.Errorf("reading the FATs: %w", err)
	}
	le := binary.LittleEndian
	for i := max(lo, 0); lo >= 0 && i < len(u.fat); i++ {
		if u.fat[i] == v.fat[i] {
			continue
		}
		for _, base := range []int64{v.fat1, v.fat2} {
			p := buf[base+int64(4*i)-start:]
			le.PutUint32(p, le.Uint32(p)&^fatMask|u.fat[i])
		}
	}
	copy(buf[v.data-start:], root)
	if err := u.writeAt(buf, start); err != nil {
		return fmt.Errorf("committing the new directory tree: %w", err)
	}
	if err := u.sync(); err != nil {
		return err
	}
	var free uint32
	for _, e := range u.fat[2:] {
		if e == 0 {
			free++
		}
	}
	if err := u.fsinfo(free); err != nil {
		return err
	}
	return u.sync()
}

func (u *updater) fsinfo(free uint32) error {
	v := u.v
	if v.fsinfo == 0 {
		return nil
	}
	s := make([]byte, v.bps)
	if _, err := v.dev.ReadAt(s, v.off+v.fsinfo); err != nil {
		return fmt.Errorf("reading FSInfo: %w", err)
	}
	if string(s[:4]) != "RRaA" || string(s[484:488]) != "rrAa" {
		return nil
	}
	le := binary.LittleEndian
	if le.Uint32(s[488:]) == free {
		return nil
	}
	le.PutUint32(s[488:], free)
	le.PutUint32(s[492:], 0xFFFFFFFF)
	if err := u.writeAt(s, v.fsinfo); err != nil {
		return fmt.Errorf("writing FSInfo: %w", err)
	}
	return nil
}

func (u *updater) sync() error {
	if s, ok := u.v.dev.(syncer); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("syncing: %w", err)
		}
	}
	return nil
}
