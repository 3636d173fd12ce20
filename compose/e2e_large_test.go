package compose

import (
	"fmt"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/internal/fixture"
)

// The real-size suite: the e2e fixtures grown with zero-filled files to the
// size of real distribution ISOs, since GRUB's loopback and the initramfs
// ISO scans behave differently at that size (Debian 12's GRUB 2.06 on UEFI
// x64 runs out of memory on `loopback` past a few hundred MB). storage: auto
// puts the 1 GiB ISOs on the FAT32 ESP and the 4.1 GiB one, which FAT32
// cannot hold, on the ext4 data partition.

const e2eLargeKit = `version: 1
label: E2EBIG
firmware: [bios, uefi-x64, uefi-arm64, uefi-ia32]
secure_boot: true
storage: auto
menu:
  title: compose real-size kit
  timeout: 10s
  console: serial
isos:
  - {name: big, title: "Tiny, 1 GiB (amd64)", path: %s, sha256: %q, boot: live,
     expect: 'ISOBOOT-OK name=tiny arch=amd64'}
  - {name: bigarm, title: "Tiny, 1 GiB (arm64)", path: %s, sha256: %q, boot: live,
     expect: 'ISOBOOT-OK name=tiny arch=arm64'}
  - {name: livebig, title: "Debian live-boot, 1 GiB (findiso)", path: %s, sha256: %q,
     expect: '%s medium=/dev/loop[0-9]+ findiso=/dev/[sv]da[23]'}
  - {name: dracutbig, title: "dracut dmsquash-live, 1 GiB (iso-scan)", path: %s, sha256: %q,
     expect: '%s live=/dev/loop[0-9]+ isoscan=/dev/[sv]da[23]'}
  - {name: huge, title: "Tiny, 4.1 GiB on ext4 (amd64)", path: %s, sha256: %q, boot: live,
     expect: 'ISOBOOT-OK name=tiny arch=amd64'}
`

// e2eLarge is what is booted from the real-size kit.
var e2eLarge = map[boottest.Variant][]string{
	boottest.UEFI:      {"big", "livebig", "dracutbig", "huge"},
	boottest.UEFISB:    {"big", "livebig", "dracutbig"},
	boottest.BIOS:      {"big", "livebig", "dracutbig", "huge"},
	boottest.UEFIIA32:  {"big"},
	boottest.UEFIARM64: {"bigarm"},
}

const (
	gib       = int64(1) << 30
	largeSize = gib + 16<<20    // ≥ 1 GiB on the ESP
	hugeSize  = 4*gib + 103<<20 // ≥ 4.1 GiB: beyond FAT32's file size limit
)

func TestBootLarge(t *testing.T) {
	t.Parallel()
	small := e2eSetup(t)
	dir, err := fixture.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	cache := &fixture.Cache{Dir: dir, Log: func(s string) { t.Log(s) }}
	var args []any
	var made []string
	for _, b := range []struct {
		src    string
		size   int64
		marker []any
	}{
		{small["tiny"], largeSize, nil},
		{small["tinyarm"], largeSize, nil},
		{small["liveboot"], largeSize, []any{fixture.LiveMarker}},
		{small["dracut"], largeSize, []any{fixture.DracutMarker}},
		{small["tiny"], hugeSize, nil},
	} {
		start := time.Now()
		p, err := cache.Padded(b.src, b.size)
		if err != nil {
			t.Fatalf("padding %s: %v", b.src, err)
		}
		t.Logf("fixture %s: %s", p, time.Since(start).Round(time.Millisecond))
		made = append(made, p)
		args = append(append(args, p, sha256File(t, p)), b.marker...)
	}
	m, img, p := e2eCompose(t, t.TempDir(), fmt.Sprintf(e2eLargeKit, args...))
	for _, f := range made { // the kit holds them now; they are GiBs each
		if err := cache.Remove(f); err != nil {
			t.Error(err)
		}
	}
	e2eBoot(t, m, img, p, e2eLarge)
}
