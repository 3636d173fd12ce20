package ext4edit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Change is one file to write or remove.
type Change struct {
	Path   string
	Remove bool
	Size   int64
	Open   func() (io.ReadCloser, error) // the new content, Size bytes
}

// Options tune Update.
type Options struct {
	Time time.Time // stamps new inodes and removals
	// Progress gets the bytes of file content written so far and the total.
	Progress func(done, total int64)
	// Chunk is the largest content write, 8 MiB when 0.
	Chunk int
}

// Stats says what Update did.
type Stats struct {
	Written int64             // bytes written to the device, metadata and journal included
	SHA256  map[string]string // path → digest of the content written
}

const chunk = 8 << 20

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
	v           *Volume
	g           *geom
	m           *meta
	opt         Options
	t           time.Time
	st          Stats
	total, done int64
	adds        []*pending
	dirBlocks   map[int64]bool // directory blocks the transaction changes
	fresh       []int64        // metadata blocks allocated by the transaction
}

// pending is a file to add: its content is written before the commit,
// its inode and directory entry go into the transaction.
type pending struct {
	c      Change
	dir    string
	name   string
	exts   []extent
	leaves []int64
}

// Update applies changes in the crash-safe order the package documents.
func (v *Volume) Update(ctx context.Context, changes []Change, opt Options) (Stats, error) {
	if v.recover {
		return Stats{}, ErrNeedsRecovery
	}
	g := *v.g
	cnt := &counter{Device: v.g.dev}
	g.dev = cnt
	m, err := g.loadMeta()
	if err != nil {
		return Stats{}, err
	}
	u := &updater{v: v, g: &g, m: m, opt: opt, t: opt.Time, st: Stats{SHA256: map[string]string{}}, dirBlocks: map[int64]bool{}}
	if u.t.IsZero() {
		u.t = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	err = u.run(ctx, changes)
	u.st.Written = cnt.n
	if err != nil {
		return u.st, err
	}
	return u.st, v.load(false)
}

func (u *updater) run(ctx context.Context, changes []Change) error {
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
		if _, err := u.g.dev.WriteAt(u.m.cache[b], u.g.off+b*u.g.bs); err != nil {
			return fmt.Errorf("writing new metadata block %d: %w", b, err)
		}
	}
	if err := u.g.sync(); err != nil {
		return err
	}
	return u.commit()
}

// plan checks the changes against the tree and returns the files to remove.
func (u *updater) plan(changes []Change) ([]*node, error) {
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
		u.total += c.Size
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
func (u *updater) blocksFor(n int64) int64 { return (n + u.g.bs - 1) / u.g.bs }

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
		return fmt.Errorf("%w: the new files need up to %d bytes beside the old ones, %d are free", ErrNoSpace, need*u.g.bs, free*u.g.bs)
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
	size := int64(chunk)
	if u.opt.Chunk > 0 {
		size = int64(u.opt.Chunk)
	}
	size = (size + u.g.bs - 1) / u.g.bs * u.g.bs
	buf := make([]byte, min(size, max(u.blocksFor(p.c.Size)*u.g.bs, 1)))
	h := sha256.New()
	left := p.c.Size
	for _, e := range p.exts {
		off := u.g.off + e.start*u.g.bs
		for l := e.n * u.g.bs; l > 0; {
			if err := ctx.Err(); err != nil {
				return err
			}
			b := buf[:min(l, int64(len(buf)))]
			k := min(int64(len(b)), left)
			if _, err := io.ReadFull(r, b[:k]); err != nil {
				return fmt.Errorf("reading the new %s: %w", p.c.Path, err)
			}
			clear(b[k:]) // the last block's tail
			h.Write(b[:k])
			if _, err := u.g.dev.WriteAt(b, off); err != nil {
				return fmt.Errorf("writing %s: %w", p.c.Path, err)
			}
			off, l, left = off+int64(len(b)), l-int64(len(b)), left-k
			u.done += k
			if u.opt.Progress != nil {
				u.opt.Progress(u.done, u.total)
			}
		}
	}
	if k, _ := r.Read(buf[:1]); k > 0 {
		return fmt.Errorf("the new %s is longer than its declared %d bytes", p.c.Path, p.c.Size)
	}
	u.st.SHA256[p.c.Path] = hex.EncodeToString(h.Sum(nil))
	return nil
}

// writeLeaves puts a fragmented file's extents in leaf blocks of a
// depth-1 tree (at most 4, as the inode holds 4 index entries).
func (u *updater) writeLeaves(p *pending) error {
	per := int((u.g.bs - 12) / 12)
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
		b := make([]byte, u.g.bs)
		putExtents(b, p.exts[i*per:min((i+1)*per, len(p.exts))])
		if _, err := u.g.dev.WriteAt(b, u.g.off+blk*u.g.bs); err != nil {
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
	ino := make([]byte, u.g.inodeSize)
	var data int64
	for _, e := range p.exts {
		data += e.n
	}
	u.g.fillInode(ino, 0o100644, p.c.Size, data+int64(len(p.leaves)), u.t)
	root := ino[0x28 : 0x28+60]
	if len(p.leaves) == 0 {
		putExtents(root, p.exts)
	} else {
		per := int((u.g.bs - 12) / 12)
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

// lookupDir finds a directory's inode by path in the (changing) tree.
func (u *updater) lookupDir(p string) (int64, error) {
	ino := int64(rootIno)
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if part == "" {
			continue
		}
		e, err := u.find(ino, part)
		if err != nil {
			return 0, err
		}
		if e == nil {
			return 0, nil
		}
		if e.ftype != 2 {
			return 0, fmt.Errorf("%s: %s is not a directory", p, part)
		}
		ino = e.ino
	}
	return ino, nil
}

func (u *updater) find(dir int64, name string) (*dirent, error) {
	ents, err := u.m.dirEntries(dir)
	if err != nil {
		return nil, err
	}
	for i := range ents {
		if ents[i].name == name {
			return &ents[i], nil
		}
	}
	return nil, nil
}

// mkdirAll returns the inode of directory p, creating what is missing.
func (u *updater) mkdirAll(p string) (int64, error) {
	ino, err := u.lookupDir(p)
	if err != nil || ino != 0 {
		return ino, err
	}
	parent, err := u.mkdirAll(path.Dir(p))
	if err != nil {
		return 0, err
	}
	return u.mkdir(parent, path.Base(p))
}

func (u *updater) mkdir(parent int64, name string) (int64, error) {
	n, err := u.m.takeInode()
	if err != nil {
		return 0, err
	}
	runs, err := u.m.alloc(1)
	if err != nil {
		return 0, err
	}
	blk := runs[0].start
	b := u.newBlock(blk, true)
	putEntry(b[0:], n, ".", 2, 12)
	putEntry(b[12:], parent, "..", 2, int(u.g.bs)-12)
	ino := make([]byte, u.g.inodeSize)
	u.g.fillInode(ino, 0o40755, u.g.bs, 1, u.t)
	le.PutUint16(ino[0x1a:], 2)
	putExtents(ino[0x28:0x28+60], []extent{{0, blk, 1}})
	if err := u.m.putInode(n, ino); err != nil {
		return 0, err
	}
	pi, err := u.m.inode(parent)
	if err != nil {
		return 0, err
	}
	le.PutUint16(pi[0x1a:], le.Uint16(pi[0x1a:])+1)
	if err := u.m.putInode(parent, pi); err != nil {
		return 0, err
	}
	grp := (n - 1) / u.g.ipg
	d, _ := u.m.desc(grp)
	u.g.addFree(d, 0x10, 1) // used directories
	u.m.mark(u.m.descBlockNo(grp))
	return n, u.addEntry(parent, name, n, 2)
}

// newBlock puts a zeroed block, just allocated, in the transaction. Fresh
// blocks are also written home before the commit (they are free on disk
// until then), so a reader that never replays finds them complete
// whenever a checkpointed inode names them.
func (u *updater) newBlock(blk int64, dir bool) []byte {
	b := make([]byte, u.g.bs)
	u.m.cache[blk] = b
	u.m.mark(blk)
	u.fresh = append(u.fresh, blk)
	if dir {
		u.dirBlocks[blk] = true
	}
	return b
}

func putEntry(b []byte, ino int64, name string, ftype byte, rec int) {
	le.PutUint32(b[0:], uint32(ino))
	le.PutUint16(b[4:], uint16(rec))
	b[6] = byte(len(name))
	b[7] = ftype
	copy(b[8:], name)
}

// addEntry adds name → ino to directory dir: in the first gap big
// enough, else in a new block appended to the directory.
func (u *updater) addEntry(dir int64, name string, ino int64, ftype byte) error {
	need := recLen(len(name))
	di, err := u.m.inode(dir)
	if err != nil {
		return err
	}
	exts, _, err := u.m.extents(di)
	if err != nil {
		return err
	}
	for _, e := range exts {
		for i := int64(0); i < e.n; i++ {
			b, err := u.m.get(e.start + i)
			if err != nil {
				return err
			}
			for at := 0; at+8 <= len(b); {
				rec := int(le.Uint16(b[at+4:]))
				if rec < 8 || at+rec > len(b) {
					return fmt.Errorf("directory %d: bad entry at %d", dir, at)
				}
				used := 0
				if le.Uint32(b[at:]) != 0 {
					used = recLen(int(b[at+6]))
				}
				if rec-used >= need {
					if used > 0 {
						le.PutUint16(b[at+4:], uint16(used))
					}
					putEntry(b[at+used:], ino, name, ftype, rec-used)
					u.m.mark(e.start + i)
					u.dirBlocks[e.start+i] = true
					return nil
				}
				at += rec
			}
		}
	}
	return u.growDir(dir, di, exts, name, ino, ftype)
}

func (u *updater) growDir(dir int64, di []byte, exts []fileExtent, name string, ino int64, ftype byte) error {
	if d := le.Uint16(di[0x28+6:]); d > 1 {
		return fmt.Errorf("%w: directory %d has an extent tree of depth %d", ErrUnsupported, dir, d)
	}
	_, oldTree, err := u.m.extents(di)
	if err != nil {
		return err
	}
	runs, err := u.m.alloc(1)
	if err != nil {
		return err
	}
	blk := runs[0].start
	putEntry(u.newBlock(blk, true), ino, name, ftype, int(u.g.bs))
	var plain []extent
	var data int64
	for _, e := range exts {
		plain = append(plain, e.extent)
		data += e.n
	}
	logical := inodeSize(di) / u.g.bs
	if k := len(plain) - 1; k >= 0 && plain[k].start+plain[k].n == blk && plain[k].logical+plain[k].n == logical && plain[k].n < maxExtent {
		plain[k].n++
	} else {
		plain = append(plain, extent{logical, blk, 1})
	}
	data++
	leaves, err := u.dirTree(di[0x28:0x28+60], plain)
	if err != nil {
		return fmt.Errorf("directory %d: %w", dir, err)
	}
	for _, b := range oldTree {
		u.m.release(b, 1) // replaced by fresh leaves: live ones are never rewritten in place
	}
	size := (logical + 1) * u.g.bs
	le.PutUint32(di[0x04:], uint32(size))
	le.PutUint32(di[0x6c:], uint32(size>>32))
	le.PutUint32(di[0x1c:], uint32((data+leaves)*(u.g.bs/512)))
	return u.m.putInode(dir, di)
}

// dirTree stores a directory's extents in its inode root, or, past 4, in
// fresh leaf blocks of a depth-1 tree; it returns the leaves used.
func (u *updater) dirTree(root []byte, exts []extent) (int64, error) {
	if len(exts) <= 4 {
		putExtents(root, exts)
		return 0, nil
	}
	per := int((u.g.bs - 12) / 12)
	nl := (len(exts) + per - 1) / per
	if nl > 4 {
		return 0, fmt.Errorf("%w: %d extents", ErrUnsupported, len(exts))
	}
	runs, err := u.m.alloc(int64(nl))
	if err != nil {
		return 0, err
	}
	var idx []extent
	i := 0
	for _, r := range runs {
		for k := int64(0); k < r.n; k++ {
			chunk := exts[i*per : min((i+1)*per, len(exts))]
			putExtents(u.newBlock(r.start+k, false), chunk)
			idx = append(idx, extent{logical: chunk[0].logical, start: r.start + k})
			i++
		}
	}
	putIndex(root, idx)
	return int64(nl), nil
}

// removeEntry removes name from directory dir, merging its space into the
// entry before it.
func (u *updater) removeEntry(dir int64, name string) error {
	e, err := u.find(dir, name)
	if err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("no entry %q in directory %d", name, dir)
	}
	b, err := u.m.get(e.blk)
	if err != nil {
		return err
	}
	if e.prev >= 0 {
		le.PutUint16(b[e.prev+4:], uint16(int(le.Uint16(b[e.prev+4:]))+e.rec))
	} else {
		le.PutUint32(b[e.at:], 0)
	}
	u.m.mark(e.blk)
	u.dirBlocks[e.blk] = true
	return nil
}

// commit journals every changed metadata block and checkpoints it, in the
// order the package documents.
func (u *updater) commit() error {
	g, m := u.g, u.m
	j, err := m.openJournal()
	if err != nil {
		return err
	}
	sb := m.sb()
	le.PutUint32(sb[sbIncompat:], le.Uint32(sb[sbIncompat:])|incompatRecover)
	m.markSB()
	steps := []func() error{
		func() error { _, err := g.setRecover(true); return err },
		func() error {
			_, err := j.writeTxn(m.order, m.cache, j.seq, bytes.Clone(j.sb[jsUUID:jsUUID+16]))
			return err
		},
		func() error { _, err := j.setState(j.first, j.seq); return err },
		func() error {
			for _, n := range u.checkpointOrder() {
				if _, err := g.dev.WriteAt(m.cache[n], g.off+n*g.bs); err != nil {
					return fmt.Errorf("checkpointing block %d: %w", n, err)
				}
			}
			return nil
		},
		func() error { _, err := j.setState(0, j.seq+1); return err },
		func() error { _, err := g.setRecover(false); return err },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
		if err := g.sync(); err != nil {
			return err
		}
	}
	return nil
}

// checkpointOrder is the transaction's blocks with the directory blocks
// last: a reader that never replays (GRUB) sees each directory change
// only once the inodes and bitmaps it names are home.
func (u *updater) checkpointOrder() []int64 {
	var out, dirs []int64
	for _, n := range u.m.order {
		if u.dirBlocks[n] {
			dirs = append(dirs, n)
		} else {
			out = append(out, n)
		}
	}
	return append(out, dirs...)
}
