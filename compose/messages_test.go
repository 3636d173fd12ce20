package compose

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// Errors say what they stopped and where (recheck pass): a verify ended
// by Ctrl-C named nothing ("interrupted"); compose test with a $TMPDIR
// that does not exist said only "stat /nonexistent: no such file or
// directory".
func TestErrorsSayWhatStopped(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	cache, img := filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	m := kit(t, dir, "uefi-x64", liveISO(t, dir, "alpha", "a"))
	build(t, m, cache, img)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Verify(ctx, VerifyOptions{Targets: []string{img}})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "verifying "+img+": ") {
		t.Errorf("verify interrupted: %v; want it to name the target", err)
	}

	k := loadKit(t, m, cache)
	t.Setenv("TMPDIR", filepath.Join(dir, "nonexistent"))
	if _, err := k.BootTest(context.Background(), TestOptions{}); err == nil || !strings.Contains(err.Error(), "($TMPDIR)") {
		t.Errorf("compose test with a missing $TMPDIR: %v; want it to say $TMPDIR", err)
	}

}
