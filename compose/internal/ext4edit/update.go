package ext4edit

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/usbkit/compose/compose/internal/edit"
)

// counter counts the bytes written through it.
type counter struct {
	Device
	n int64
}

func (c *counter) WriteAt(b []byte, off int64) (int, error) {
	n, err := c.Device.WriteAt(b, off)
	c.n += int64(n)
	return n, err
}

func (c *counter) Sync() error {
	if s, ok := c.Device.(syncer); ok {
		return s.Sync()
	}
	return nil
}

type updater struct {
	v         *Volume
	g         *geom
	m         *meta
	opt       edit.Options
	t         time.Time
	st        edit.Stats
	cp        edit.Copier
	adds      []*pending
	dirBlocks map[int64]bool // directory blocks the transaction changes
	fresh     []int64        // metadata blocks allocated by the transaction
}

// pending is a file to add: its content is written before the commit,
// its inode and directory entry go into the transaction.
type pending struct {
	c      edit.Change
	dir    string
	name   string
	exts   []extent
	leaves []int64
}

// Update applies changes in the crash-safe order the package documents.
func (v *Volume) Update(ctx context.Context, changes []edit.Change, opt edit.Options) (edit.Stats, error) {
	if v.recover {
		return edit.Stats{}, ErrNeedsRecovery
	}
	g := *v.g
	cnt := &counter{Device: v.g.dev}
	g.dev = cnt
	m, err := g.loadMeta()
	if err != nil {
		return edit.Stats{}, err
	}
	u := &updater{v: v, g: &g, m: m, opt: opt, cp: edit.Copier{Opt: opt}, t: opt.Time, st: edit.Stats{SHA256: map[string]string{}}, dirBlocks: map[int64]bool{}}
	if u.t.IsZero() {
		u.t = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	err = u.run(ctx, changes)
	u.st.Written = cnt.n
	if err != nil {
		// Re-read what is on disk: a failure after the commit leaves a
		// transaction to recover, which NeedsRecovery must then report.
		if lerr := v.load(false); lerr != nil {
			v.recover = true
		}
		return u.st, err
	}
	return u.st, v.load(false)
}

func (u *updater) run(ctx context.Context, changes []edit.Change) error {
	removes, err := u.plan(changes)
	if err != nil {
		return err
	}
	if len(removes) == 0 && len(u.adds) == 0 {
		return nil
	}
	if err := u.checkSpace(); err != nil {
		return err
	}
	for _, p := range u.adds {
		if err := u.writeFile(ctx, p); err != nil {
			return err
		}
	}
	for _, n := range removes {
		if err := u.remove(n); err != nil {
			return err
		}
	}
	for _, p := range u.adds {
		if err := u.link(p); err != nil {
			return err
		}
	}
	for _, b := range u.fresh {
		if _, err := u.g.dev.WriteAt(u.m.cache[b], u.g.off+b*u.g.BlockSize); err != nil {
			return fmt.Errorf("writing new metadata block %d: %w", b, err)
		}
	}
	if err := u.g.sync(); err != nil {
		return err
	}
	return u.commit()
}

// plan checks the changes against the tree and returns the files to remove.
func (u *updater) plan(changes []edit.Change) ([]*node, error) {
	removed := map[string]bool{}
	var removes []*node
	for _, c := range changes {
		if !c.Remove {
			continue
		}
		if err := checkPath(c.Path); err != nil {
			return nil, err
		}
		n := u.v.lookup(c.Path)
		if n == nil || removed[c.Path] {
			continue
		}
		if n.dir {
			return nil, fmt.Errorf("%s: is a directory on the volume", c.Path)
		}
		removed[c.Path] = true
		removes = append(removes, n)
	}
	added := map[string]bool{}
	for _, c := range changes {
		if c.Remove {
			continue
		}
		if err := checkPath(c.Path); err != nil {
			return nil, err
		}
		if c.Size < 0 || c.Open == nil {
			return nil, fmt.Errorf("%s: a change needs a size and content", c.Path)
		}
		n := u.v.lookup(c.Path)
		switch {
		case added[c.Path]:
			return nil, fmt.Errorf("%s: added twice", c.Path)
		case n != nil && n.dir:
			return nil, fmt.Errorf("%s: is a directory on the volume", c.Path)
		case n != nil && !removed[c.Path]:
			return nil, fmt.Errorf("%s: exists on the volume (remove it in the same Update to replace it)", c.Path)
		}
		added[c.Path] = true
		dir, name := path.Split(c.Path)
		u.adds = append(u.adds, &pending{c: c, dir: path.Clean(dir), name: name})
		u.cp.Total += c.Size
	}
	return removes, nil
}

func checkPath(p string) error {
	if p == "" || p[0] != '/' || path.Clean(p) != p || p == "/" || strings.Contains(p, "\x00") {
		return fmt.Errorf("%q: not a clean absolute file path", p)
	}
	for _, part := range strings.Split(p[1:], "/") {
		if len(part) > 255 {
			return fmt.Errorf("%s: a name longer than 255 bytes", p)
		}
	}
	return nil
}

// blocksFor is the file blocks of n bytes.
func (u *updater) blocksFor(n int64) int64 { return (n + u.g.BlockSize - 1) / u.g.BlockSize }

// checkSpace compares the new files' blocks (with a leaf and directory
// block each, at most) with the blocks free on disk: the old contents
// stay until the commit, so nothing freed here can be reused.
func (u *updater) checkSpace() error {
	var need int64
	for _, p := range u.adds {
		need += u.blocksFor(p.c.Size) + 2
	}
	sb := u.m.sb()
	free := int64(le.Uint32(sb[sbFreeBlocks:])) | int64(le.Uint32(sb[sbFreeBlocksHi:]))<<32
	if need > free {
		return fmt.Errorf("%w: the new files need up to %d bytes beside the old ones, %d are free", ErrNoSpace, need*u.g.BlockSize, free*u.g.BlockSize)
	}
	return nil
}

// writeFile allocates a file's blocks and extent leaves and writes its
// content and leaves straight to them.
func (u *updater) writeFile(ctx context.Context, p *pending) error {
	exts, err := u.m.alloc(u.blocksFor(p.c.Size))
	if err != nil {
		return fmt.Errorf("%s: %w", p.c.Path, err)
	}
	for _, e := range exts {
		p.exts = append(p.exts, splitRun(e.logical, e.start, e.n)...)
	}
	if len(p.exts) > 4 {
		if err := u.writeLeaves(p); err != nil {
			return err
		}
	}
	r, err := p.c.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", p.c.Path, err)
	}
	defer r.Close()
	ext := make([]edit.Extent, len(p.exts))
	for i, e := range p.exts {
		ext[i] = edit.Extent{Off: u.g.off + e.start*u.g.BlockSize, Len: e.n * u.g.BlockSize}
	}
	write := func(b []byte, off int64) error { _, err := u.g.dev.WriteAt(b, off); return err }
	sum, err := u.cp.Copy(ctx, p.c.Path, p.c.Size, r, ext, u.g.BlockSize, write)
	if err != nil {
		return err
	}
	u.st.SHA256[p.c.Path] = sum
	return nil
}

// writeLeaves puts a fragmented file's extents in leaf blocks of a
// depth-1 tree (at most 4, as the inode holds 4 index entries).
func (u *updater) writeLeaves(p *pending) error {
	per := int((u.g.BlockSize - 12) / 12)
	nl := (len(p.exts) + per - 1) / per
	if nl > 4 {
		return fmt.Errorf("%w: %s would need %d extents (the free space is too fragmented)", ErrUnsupported, p.c.Path, len(p.exts))
	}
	runs, err := u.m.alloc(int64(nl))
	if err != nil {
		return err
	}
	for _, r := range runs {
		for i := int64(0); i < r.n; i++ {
			p.leaves = append(p.leaves, r.start+i)
		}
	}
	for i, blk := range p.leaves {
		b := make([]byte, u.g.BlockSize)
		putExtents(b, p.exts[i*per:min((i+1)*per, len(p.exts))])
		if _, err := u.g.dev.WriteAt(b, u.g.off+blk*u.g.BlockSize); err != nil {
			return fmt.Errorf("writing %s's extent leaf: %w", p.c.Path, err)
		}
	}
	return nil
}

// link gives a written file its inode and directory entry.
func (u *updater) link(p *pending) error {
	dir, err := u.mkdirAll(p.dir)
	if err != nil {
		return err
	}
	n, err := u.m.takeInode()
	if err != nil {
		return err
	}
	ino := make([]byte, u.g.InodeSize)
	var data int64
	for _, e := range p.exts {
		data += e.n
	}
	u.g.fillInode(ino, 0o100644, p.c.Size, data+int64(len(p.leaves)), u.t)
	root := ino[0x28 : 0x28+60]
	if len(p.leaves) == 0 {
		putExtents(root, p.exts)
	} else {
		per := int((u.g.BlockSize - 12) / 12)
		var idx []extent
		for i, blk := range p.leaves {
			idx = append(idx, extent{logical: p.exts[i*per].logical, start: blk})
		}
		putIndex(root, idx)
	}
	if err := u.m.putInode(n, ino); err != nil {
		return err
	}
	return u.addEntry(dir, p.name, n, 1)
}

// putIndex writes a depth-1 extent root pointing at leaf blocks.
func putIndex(b []byte, leaves []extent) {
	clear(b)
	le.PutUint16(b[0:], extMagic)
	le.PutUint16(b[2:], uint16(len(leaves)))
	le.PutUint16(b[4:], uint16((len(b)-12)/12))
	le.PutUint16(b[6:], 1)
	for i, l := range leaves {
		p := b[12+12*i:]
		le.PutUint32(p[0:], uint32(l.logical))
		le.PutUint32(p[4:], uint32(l.start))
		le.PutUint16(p[8:], uint16(l.start>>32))
	}
}

// remove frees a file's blocks, extent tree, inode and directory entry.
func (u *updater) remove(n *node) error {
	ino, err := u.m.inode(n.ino)
	if err != nil {
		return err
	}
	dir, err := u.lookupDir(path.Dir(n.path))
	if err != nil {
		return err
	}
	if err := u.removeEntry(dir, n.name); err != nil {
		return fmt.Errorf("%s: %w", n.path, err)
	}
	if links := le.Uint16(ino[0x1a:]); links > 1 {
		le.PutUint16(ino[0x1a:], links-1)
		return u.m.putInode(n.ino, ino)
	}
	exts, tree, err := u.m.extents(ino)
	if err != nil {
		return fmt.Errorf("%s: %w", n.path, err)
	}
	for _, e := range exts {
		u.m.release(e.start, e.n)
	}
	for _, b := range tree {
		u.m.release(b, 1)
	}
	le.PutUint16(ino[0x1a:], 0)
	le.PutUint32(ino[0x14:], uint32(u.t.Unix())) // dtime
	if err := u.m.putInode(n.ino, ino); err != nil {
		return err
	}
	return u.m.releaseInode(n.ino)
}
