package ext4edit_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/ext4edit"
)

func init() { ext4edit.DataImage = dataImage }

func dataImage(t *testing.T, size int64, files map[string][]byte) (string, int64, int64) {
	t.Helper()
	spec := disk.Spec{Size: size, Seed: []byte("ext4edit"), ESP: disk.ESP{Label: "TESTKIT"}}
	for p, b := range files {
		spec.Data.Files = append(spec.Data.Files, disk.File{Path: p, Data: b})
	}
	img := filepath.Join(t.TempDir(), "kit.img")
	res, err := disk.Build(context.Background(), img, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Layout.Partition(disk.FSExt4)
	return img, p.Offset, p.Size
}
