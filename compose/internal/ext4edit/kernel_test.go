package ext4edit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// kernelFiles mounts img read-write through a loop device (the kernel
// replays a committed journal on mount), reads paths through the kernel,
// and unmounts.
func kernelFiles(t *testing.T, img string, paths map[string]string, write ...func(mnt string)) map[string]string {
	t.Helper()
	mnt := t.TempDir()
	testenv.Run(t, "mount", "-t", "ext4", "-o", "loop", img, mnt)
	for _, w := range write {
		w(mnt)
	}
	defer func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v %s", err, out)
		}
	}()
	got := map[string]string{}
	for p := range paths {
		b, err := os.ReadFile(filepath.Join(mnt, p))
		if err == nil {
			got[p] = digest(b)
		}
	}
	return got
}

// TestKernelReplays stops an Update at every write that leaves a committed
// transaction (the commit and each checkpoint write), lets the kernel
// replay it by mounting, and checks the kernel reads the new tree and
// e2fsck -fn then finds the volume clean. The kernel leaves its own
// journal features (64-bit tags, revoke) behind: a following Update must
// work with them and the kernel must read its result.
func TestKernelReplays(t *testing.T) {
	testenv.Loop(t)
	testenv.Tools(t, "e2fsck", "mount", "umount")
	old, next, changes := scenario()
	pristine := journaled(t, 64<<20, old)
	work := filepath.Join(t.TempDir(), "work.img")
	newSums := digests(next)
	committed := 0
	for n := 0; ; n++ {
		copyFile(t, pristine, work)
		d := &dying{n: n}
		if _, err := updateChunk(t, work, changes, func(f *os.File) Device { d.f = f; return d }, 1<<20); err == nil {
			break
		}
		if state(t, work) != "committed (journal holds the transaction)" {
			continue
		}
		committed++
		if got := kernelFiles(t, work, newSums); !sameMap(got, newSums) {
			t.Fatalf("death after %d: the kernel's replay reads %v", n, got)
		}
		clean(t, work, "after the kernel's replay")
	}
	if committed < 2 {
		t.Fatalf("only %d stops left a committed journal", committed)
	}
	// The kernel writes a file: its transactions set its journal features.
	byKernel := content("by-kernel", 33<<10)
	next["/isos/by-kernel.iso"] = byKernel
	kernelFiles(t, work, nil, func(mnt string) {
		if err := os.WriteFile(filepath.Join(mnt, "isos/by-kernel.iso"), byKernel, 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Run(t, "sync", "-f", filepath.Join(mnt, "isos"))
	})
	clean(t, work, "after the kernel wrote a file")
	v, done := open(t, work, nil)
	t.Logf("journal features after a kernel mount: incompat %#x", be.Uint32(v.j.sb[jsIncompat:]))
	done()
	if got := ownFiles(t, work); !sameMap(got, digests(next)) {
		t.Fatalf("Open reads %v after the kernel wrote", got)
	}
	// A transaction with 64-bit tags, stopped right after its commit: the
	// kernel replays it.
	extra := content("after-kernel", 77<<10)
	next["/isos/after-kernel.iso"] = extra
	delete(next, "/isos/by-kernel.iso")
	change := []edit.Change{put("/isos/after-kernel.iso", extra), {Path: "/isos/by-kernel.iso", Remove: true}}
	kernelTouched := filepath.Join(t.TempDir(), "kernel.img")
	copyFile(t, work, kernelTouched)
	for n := 0; ; n++ {
		copyFile(t, kernelTouched, work)
		d := &dying{n: n}
		if _, err := updateChunk(t, work, change, func(f *os.File) Device { d.f = f; return d }, 1<<20); err == nil {
			t.Fatal("no stop left the journal committed")
		}
		if state(t, work) == "committed (journal holds the transaction)" {
			break
		}
	}
	if got := kernelFiles(t, work, digests(next)); !sameMap(got, digests(next)) {
		t.Fatalf("the kernel's replay of 64-bit tags reads %v", got)
	}
	clean(t, work, "after the kernel replayed 64-bit tags")
	if got := ownFiles(t, work); !sameMap(got, digests(next)) {
		t.Fatalf("Open reads %v", got)
	}
	if rc, out := fsck(t, work, "-fn"); rc != 0 || strings.Contains(out, "journal") {
		t.Fatalf("e2fsck -fn after the kernel's second mount exited %d:\n%s", rc, out)
	}
}
