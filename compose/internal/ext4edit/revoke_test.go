package ext4edit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestRecoverHonoursRevokes builds, by hand, a journal as the kernel can
// leave it: transaction S logs blocks X and Y, transaction S+1 revokes X.
// e2fsck's replay and Recover must both write Y and leave X alone.
func TestRecoverHonoursRevokes(t *testing.T) {
	testenv.Tools(t, "e2fsck")
	old, _, _ := scenario()
	img := journaled(t, 64<<20, old)
	v, done := open(t, img, nil)
	x := v.m.findRun(2)
	y := x + 1
	j := v.j
	seq := j.seq
	hdr := func(typ uint32, s uint32) []byte {
		b := make([]byte, v.g.BlockSize)
		be.PutUint32(b[0:], jMagic)
		be.PutUint32(b[4:], typ)
		be.PutUint32(b[8:], s)
		return b
	}
	desc := hdr(jDescriptor, seq)
	be.PutUint32(desc[12:], uint32(x))
	copy(desc[20:], j.sb[jsUUID:jsUUID+16])
	be.PutUint32(desc[36:], uint32(y))
	be.PutUint16(desc[36+6:], jFlagSameUUID|jFlagLastTag)
	revoke := hdr(jRevoke, seq+1)
	be.PutUint32(revoke[12:], 16+4)
	be.PutUint32(revoke[16:], uint32(x))
	blocks := [][]byte{desc, bytes.Repeat([]byte{0xAA}, int(v.g.BlockSize)), bytes.Repeat([]byte{0xBB}, int(v.g.BlockSize)), hdr(jCommit, seq), revoke, hdr(jCommit, seq+1)}
	for i, b := range blocks {
		p, _ := j.phys(j.first + int64(i))
		if _, err := v.g.dev.WriteAt(b, p*v.g.BlockSize); err != nil {
			t.Fatal(err)
		}
	}
	be.PutUint32(j.sb[jsIncompat:], jIncompatRevoke)
	if _, err := j.setState(j.first, seq); err != nil {
		t.Fatal(err)
	}
	if _, err := v.g.setRecover(true); err != nil {
		t.Fatal(err)
	}
	done()
	byFsck := filepath.Join(t.TempDir(), "fsck.img")
	copyFile(t, img, byFsck)
	if rc, out := fsck(t, byFsck, "-y", "-E", "journal_only"); rc > 1 {
		t.Fatalf("e2fsck -E journal_only exited %d:\n%s", rc, out)
	}
	v, done = open(t, img, nil)
	if !v.NeedsRecovery() {
		t.Fatal("the forged journal does not need recovery")
	}
	if err := v.Recover(); err != nil {
		t.Fatal(err)
	}
	done()
	clean(t, img, "Recovered")
	for _, f := range []string{img, byFsck} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bs := int(v.g.BlockSize)
		if bytes.Contains(b[int(x)*bs:int(x+1)*bs], []byte{0xAA}) {
			t.Errorf("%s: the revoked block was replayed", f)
		}
		if !bytes.Equal(b[int(y)*bs:int(y+1)*bs], blocks[2]) {
			t.Errorf("%s: block Y was not replayed", f)
		}
	}
	sameBlocks(t, img, byFsck, -1)
}
