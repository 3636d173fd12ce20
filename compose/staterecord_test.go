package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// withRecord writes a copy of img whose state record is the original
// changed by edit (as JSON: a crafted stick may hold any record).
func withRecord(t *testing.T, img string, edit func(map[string]any)) string {
	t.Helper()
	tg, err := converge.ReadTarget(img)
	if err != nil || !tg.Kit {
		t.Fatalf("the kit: %+v, %v", tg, err)
	}
	raw, err := json.Marshal(tg.State)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	dir := t.TempDir()
	rec, out := filepath.Join(dir, "state.json"), filepath.Join(dir, "kit.img")
	b, _ := json.Marshal(st)
	if err := os.WriteFile(rec, b, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	off := tg.Offset(espIndexOf(tg))
	testenv.Run(t, "mcopy", "-o", "-i", out+"@@"+strconv.FormatInt(off, 10), rec, "::"+converge.StatePath)
	return out
}

func espIndexOf(tg *converge.Target) int {
	for _, p := range tg.Partitions {
		if p.Type == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" {
			return p.Index
		}
	}
	return 0
}

func firstISO(st map[string]any) map[string]any {
	return st["isos"].([]any)[0].(map[string]any)
}

// TestHostileStateRecord: a record no compose writes is not a kit's.
// Found by the recheck pass: an ISO the record placed on partition 99 (or
// -1, or the BIOS boot partition) or under a relative path was neither
// read nor reported: verify said "all 9 recorded files ok" of a record of
// 10, exit 0. A BIOS boot length of 2^62 was called a record "from an
// older compose"; a record of 200,000 files made a 4 MB error line.
func TestHostileStateRecord(t *testing.T) {
	testenv.Tools(t, "xorriso", "mcopy")
	dir := t.TempDir()
	img := filepath.Join(dir, "kit.img")
	build(t, kit(t, dir, "bios, uefi-x64", liveISO(t, dir, "alpha", "a")), filepath.Join(dir, "cache"), img)
	cases := []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"ISO on partition 99", func(st map[string]any) { firstISO(st)["partition"] = 99 },
			"places /isos/alpha.iso on partition 99, which is neither its EFI System Partition (2) nor its data partition"},
		{"ISO on partition -1", func(st map[string]any) { firstISO(st)["partition"] = -1 }, "on partition -1"},
		{"ISO on the BIOS boot partition", func(st map[string]any) { firstISO(st)["partition"] = 1 }, "on partition 1"},
		{"relative path", func(st map[string]any) { firstISO(st)["path"] = "isos/alpha.iso" },
			`names "isos/alpha.iso", not a clean absolute path`},
		{"path with ..", func(st map[string]any) { firstISO(st)["path"] = "/isos/../EFI/BOOT/BOOTX64.EFI" },
			"not a clean absolute path"},
		{"negative size", func(st map[string]any) { firstISO(st)["size"] = -100 }, "gives /isos/alpha.iso a size of -100 bytes"},
		{"core.img of 2^62 bytes", func(st map[string]any) { st["bios_boot_size"] = int64(1) << 62 },
			"BIOS boot code lengths out of range (core.img 4611686018427387904 bytes"},
		{"boot code of -1 bytes", func(st map[string]any) { st["boot_code_size"] = -1 }, "boot code -1)"},
		{"the ESP as persistence", func(st map[string]any) {
			st["partitions"].([]any)[1].(map[string]any)["persistence"] = map[string]any{"entry": "alpha", "label": "p-alpha", "offset": 1 << 20, "size": 1 << 20, "guid": "x"}
		}, "makes partition 2 a persistence partition"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := withRecord(t, img, c.edit)
			_, err := Verify(context.Background(), VerifyOptions{Targets: []string{bad}})
			if !errors.Is(err, converge.ErrNotKit) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("verify: %v\nwant not a kit: %s", err, c.want)
			}
		})
	}

	many := withRecord(t, img, func(st map[string]any) {
		var files []any
		for i := range 5000 {
			files = append(files, map[string]any{"path": fmt.Sprintf("/f%d", i), "partition": 2, "size": 1, "sha256": strings.Repeat("0", 64)})
		}
		st["files"] = files
	})
	_, err := Verify(context.Background(), VerifyOptions{Targets: []string{many}})
	if !errors.Is(err, converge.ErrDamaged) || len(err.Error()) > 2000 || !strings.Contains(err.Error(), "5000 files are damaged") || !strings.HasSuffix(err.Error(), "; and 4980 more") {
		t.Fatalf("a record of 5000 files that are not there: %d bytes of error: %.300s", len(err.Error()), err)
	}
}
