package ext4edit

import (
	"bytes"
	"fmt"
	"sort"
)

const (
	jIncompatRevoke = 0x1
	jIncompat64     = 0x2
)

// journal is the jbd2 journal in inode 8.
type journal struct {
	m      *meta
	exts   []fileExtent
	sb     []byte // the journal superblock's block
	first  int64
	maxlen int64
	start  int64
	seq    uint32
	tag64  bool
}

func (m *meta) openJournal() (*journal, error) {
	ino, err := m.inode(journalIno)
	if err != nil {
		return nil, fmt.Errorf("journal inode: %w", err)
	}
	exts, _, err := m.extents(ino)
	if err != nil {
		return nil, fmt.Errorf("journal inode: %w", err)
	}
	j := &journal{m: m, exts: exts}
	p, err := j.phys(0)
	if err != nil {
		return nil, err
	}
	if j.sb, err = m.g.readBlock(p); err != nil {
		return nil, fmt.Errorf("journal superblock: %w", err)
	}
	b := j.sb
	if be.Uint32(b[0:]) != jMagic || be.Uint32(b[4:]) != jSuperV2 {
		return nil, fmt.Errorf("%w: no v2 jbd2 superblock in the journal (magic %#x, type %d)", ErrUnsupported, be.Uint32(b[0:]), be.Uint32(b[4:]))
	}
	if c, i, r := be.Uint32(b[jsCompat:]), be.Uint32(b[jsIncompat:]), be.Uint32(b[jsROCompat:]); c != 0 || r != 0 || i&^(jIncompatRevoke|jIncompat64) != 0 {
		return nil, fmt.Errorf("%w: journal features compat %#x incompat %#x ro %#x (checksums, fast commits)", ErrUnsupported, c, i, r)
	}
	j.tag64 = be.Uint32(b[jsIncompat:])&jIncompat64 != 0
	j.first, j.maxlen = int64(be.Uint32(b[jsFirst:])), int64(be.Uint32(b[jsMaxLen:]))
	j.start, j.seq = int64(be.Uint32(b[jsStart:])), be.Uint32(b[jsSequence:])
	if int64(be.Uint32(b[jsBlockSize:])) != m.g.BlockSize || j.first < 1 || j.maxlen < j.first+8 ||
		j.maxlen > inodeSize(ino)/m.g.BlockSize || (j.start != 0 && (j.start < j.first || j.start >= j.maxlen)) {
		return nil, fmt.Errorf("%w: implausible journal superblock (block size %d, first %d, length %d, start %d)",
			ErrUnsupported, be.Uint32(b[jsBlockSize:]), j.first, j.maxlen, j.start)
	}
	for i := int64(0); i < j.maxlen; i += maxExtent {
		if _, err := j.phys(i); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// phys maps journal block i to its volume block.
func (j *journal) phys(i int64) (int64, error) {
	k := sort.Search(len(j.exts), func(k int) bool { return j.exts[k].logical+j.exts[k].n > i })
	if k == len(j.exts) || j.exts[k].logical > i || j.exts[k].uninit {
		return 0, fmt.Errorf("%w: journal block %d is not mapped", ErrUnsupported, i)
	}
	e := j.exts[k]
	return e.start + i - e.logical, nil
}

func (j *journal) read(i int64) ([]byte, error) {
	p, err := j.phys(i)
	if err != nil {
		return nil, err
	}
	return j.m.g.readBlock(p)
}

func (j *journal) next(i int64) int64 {
	if i+1 >= j.maxlen {
		return j.first
	}
	return i + 1
}

func (j *journal) tagSize() int {
	if j.tag64 {
		return 12
	}
	return 8
}

// logged is one block a transaction logs: its home and its place in the
// journal.
type logged struct {
	home, pos int64
	escaped   bool
}

type txn struct {
	seq     uint32
	blocks  []logged
	revokes []int64
}

// scan reads the transactions from s_start that end in a commit block.
// Replay stops at the first block that is not the next expected one:
// another magic, another type or another sequence (a stale block of an
// older transaction).
func (j *journal) scan() ([]txn, error) {
	var out []txn
	if j.start == 0 {
		return nil, nil
	}
	pos, seq, cur := j.start, j.seq, txn{seq: j.seq}
	for steps := int64(0); steps < j.maxlen; steps++ {
		b, err := j.read(pos)
		if err != nil {
			return nil, err
		}
		if be.Uint32(b[0:]) != jMagic || be.Uint32(b[8:]) != seq {
			return out, nil
		}
		switch be.Uint32(b[4:]) {
		case jDescriptor:
			tags, err := j.parseTags(b)
			if err != nil {
				return out, nil //nolint:nilerr // a broken descriptor ends the log
			}
			for _, t := range tags {
				pos = j.next(pos)
				steps++
				cur.blocks = append(cur.blocks, logged{home: t.home, pos: pos, escaped: t.escaped})
			}
		case jRevoke:
			cur.revokes = append(cur.revokes, j.parseRevoke(b)...)
		case jCommit:
			out = append(out, cur)
			seq++
			cur = txn{seq: seq}
		default:
			return out, nil
		}
		pos = j.next(pos)
	}
	return out, nil
}

func (j *journal) parseTags(b []byte) ([]logged, error) {
	var out []logged
	ts := j.tagSize()
	for at := 12; at+ts <= len(b); {
		flags := be.Uint16(b[at+6:])
		home := int64(be.Uint32(b[at:]))
		if j.tag64 {
			home |= int64(be.Uint32(b[at+8:])) << 32
		}
		out = append(out, logged{home: home, escaped: flags&jFlagEscape != 0})
		at += ts
		if flags&jFlagSameUUID == 0 {
			at += 16
		}
		if flags&jFlagLastTag != 0 {
			return out, nil
		}
	}
	return nil, fmt.Errorf("descriptor without a last tag")
}

func (j *journal) parseRevoke(b []byte) []int64 {
	var out []int64
	n := int(be.Uint32(b[12:]))
	rs := 4
	if j.tag64 {
		rs = 8
	}
	for at := 16; at+rs <= min(n, len(b)); at += rs {
		if j.tag64 {
			out = append(out, int64(be.Uint64(b[at:])))
		} else {
			out = append(out, int64(be.Uint32(b[at:])))
		}
	}
	return out
}

// replay writes every committed block home (the last copy wins, revoked
// ones are skipped) and returns the sequence the next transaction gets:
// one past the end, as e2fsck and the kernel leave it.
func (j *journal) replay() (uint32, error) {
	txns, err := j.scan()
	if err != nil {
		return 0, err
	}
	revoked := map[int64]uint32{}
	for _, t := range txns {
		for _, r := range t.revokes {
			revoked[r] = t.seq
		}
	}
	g := j.m.g
	for _, t := range txns {
		for _, l := range t.blocks {
			if s, ok := revoked[l.home]; ok && int32(t.seq-s) <= 0 {
				continue
			}
			if l.home < 0 || l.home >= g.Blocks {
				return 0, fmt.Errorf("journal block %d names block %d outside the volume", l.pos, l.home)
			}
			b, err := j.read(l.pos)
			if err != nil {
				return 0, err
			}
			if l.escaped {
				be.PutUint32(b[0:], jMagic)
			}
			if _, err := g.dev.WriteAt(b, g.off+l.home*g.BlockSize); err != nil {
				return 0, fmt.Errorf("replaying block %d: %w", l.home, err)
			}
		}
	}
	return j.seq + uint32(len(txns)) + 1, nil
}

// setState writes the journal superblock's start and sequence: ONE write of
// its first 1024 bytes.
func (j *journal) setState(start int64, seq uint32) (int64, error) {
	be.PutUint32(j.sb[jsStart:], uint32(start))
	be.PutUint32(j.sb[jsSequence:], seq)
	p, err := j.phys(0)
	if err != nil {
		return 0, err
	}
	n, err := j.m.g.dev.WriteAt(j.sb[:jsLen], j.m.g.off+p*j.m.g.BlockSize)
	if err != nil {
		return int64(n), fmt.Errorf("writing the journal superblock: %w", err)
	}
	j.start, j.seq = start, seq
	return int64(n), nil
}

// setRecover sets or clears needs_recovery in the superblock on disk
// (one write of the 1024-byte superblock).
func (g *geom) setRecover(on bool) (int64, error) {
	sb := make([]byte, 1024)
	if _, err := g.dev.ReadAt(sb, g.off+sbOffset); err != nil {
		return 0, fmt.Errorf("reading the superblock: %w", err)
	}
	f := le.Uint32(sb[sbIncompat:])
	if on {
		f |= incompatRecover
	} else {
		f &^= incompatRecover
	}
	if f == le.Uint32(sb[sbIncompat:]) {
		return 0, nil
	}
	le.PutUint32(sb[sbIncompat:], f)
	n, err := g.dev.WriteAt(sb, g.off+sbOffset)
	if err != nil {
		return int64(n), fmt.Errorf("writing the superblock: %w", err)
	}
	return int64(n), nil
}

// Recover replays the committed transactions the journal holds, then
// empties the journal and clears needs_recovery. Running it again, or on a
// volume that needs nothing, is harmless.
func (v *Volume) Recover() error {
	if v.j.start != 0 {
		next, err := v.j.replay()
		if err != nil {
			return err
		}
		if err := v.g.sync(); err != nil {
			return err
		}
		if _, err := v.j.setState(0, next); err != nil {
			return err
		}
		if err := v.g.sync(); err != nil {
			return err
		}
	}
	if _, err := v.g.setRecover(false); err != nil {
		return err
	}
	if err := v.g.sync(); err != nil {
		return err
	}
	return v.load(false)
}

// writeTxn logs the blocks of order (contents from cache) as transaction
// seq from journal block first: descriptors, block copies (escaped when
// they start with the jbd2 magic), then the commit block. It returns the
// bytes written.
func (j *journal) writeTxn(order []int64, cache map[int64][]byte, seq uint32, uuid []byte) (int64, error) {
	g := j.m.g
	ts := j.tagSize()
	per := int((g.BlockSize - 12 - 16) / int64(ts))
	descs := (len(order) + per - 1) / per
	if need := int64(descs + len(order) + 1); need > j.maxlen-j.first {
		return 0, fmt.Errorf("%w: the transaction needs %d journal blocks, the journal has %d", ErrNoSpace, need, j.maxlen-j.first)
	}
	var written int64
	pos := j.first
	put := func(b []byte) error {
		p, err := j.phys(pos)
		if err != nil {
			return err
		}
		n, err := g.dev.WriteAt(b, g.off+p*g.BlockSize)
		written += int64(n)
		if err != nil {
			return fmt.Errorf("writing the journal: %w", err)
		}
		pos++
		return nil
	}
	header := func(typ uint32) []byte {
		b := make([]byte, g.BlockSize)
		be.PutUint32(b[0:], jMagic)
		be.PutUint32(b[4:], typ)
		be.PutUint32(b[8:], seq)
		return b
	}
	for i := 0; i < len(order); i += per {
		chunk := order[i:min(i+per, len(order))]
		d := header(jDescriptor)
		at := 12
		for k, home := range chunk {
			flags := uint16(0)
			if bytes.Equal(cache[home][:4], d[:4]) {
				flags |= jFlagEscape
			}
			if k > 0 {
				flags |= jFlagSameUUID
			}
			if k == len(chunk)-1 {
				flags |= jFlagLastTag
			}
			be.PutUint32(d[at:], uint32(home))
			be.PutUint16(d[at+6:], flags)
			if j.tag64 {
				be.PutUint32(d[at+8:], uint32(home>>32))
			}
			at += ts
			if k == 0 {
				copy(d[at:], uuid)
				at += 16
			}
		}
		if err := put(d); err != nil {
			return written, err
		}
		for _, home := range chunk {
			b := cache[home]
			if bytes.Equal(b[:4], d[:4]) {
				b = bytes.Clone(b)
				clear(b[:4])
			}
			if err := put(b); err != nil {
				return written, err
			}
		}
	}
	err := put(header(jCommit))
	return written, err
}
