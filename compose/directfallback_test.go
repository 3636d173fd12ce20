package compose

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestConvergeVerifyFallsBackForReal changes a kit whose image lies on
// ramfs, which refuses O_DIRECT: the read-back must take the kernel's
// refusal for one, drop the cache and read back instead of failing, and
// the result must say so. (TestConvergeVerifyFallsBack fakes the refusal;
// ramfs never evicts its pages, so the drop itself is not observable here.)
func TestConvergeVerifyFallsBackForReal(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "cp")
	_, cache, built, two := twoKits(t, "uefi-x64")
	img := filepath.Join(testenv.Ramfs(t), "kit.img")
	testenv.Run(t, "cp", "--sparse=always", built, img)
	res, err := Build(context.Background(), planAgainst(t, two, cache, img), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Direct || len(res.Warnings) != 1 {
		t.Fatalf("result: direct %v, warnings %q", res.Direct, res.Warnings)
	}
	w := res.Warnings[0]
	for _, want := range []string{"read back after dropping the page cache, not bypassing it: ", img, "does not support O_DIRECT"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q does not say %q", w, want)
		}
	}
	checkKit(t, img)
}
