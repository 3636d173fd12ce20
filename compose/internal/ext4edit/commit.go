package ext4edit

import (
	"bytes"
	"fmt"
)

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
				if _, err := g.dev.WriteAt(m.cache[n], g.off+n*g.BlockSize); err != nil {
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
