package compose

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/imagefile"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/fetch"
)

// namingKit writes a manifest that names a file in every field that can:
// a path: ISO, the OpenPGP key of a checksum signature, the Secure Boot
// key and certificate, and a certificate to enrol. Nothing is fetched:
// the cache is offline and empty.
func namingKit(t *testing.T) (k *Kit, dir, cache string) {
	t.Helper()
	dir = t.TempDir()
	for name, data := range map[string]string{
		"alpha.iso":   "an ISO the manifest names by path",
		"MOK.key":     "-----BEGIN PRIVATE KEY-----\nthe user's only copy\n-----END PRIVATE KEY-----\n",
		"MOK.crt":     "-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n",
		"extra.crt":   "-----BEGIN CERTIFICATE-----\nenrolled\n-----END CERTIFICATE-----\n",
		"signing.asc": "-----BEGIN PGP PUBLIC KEY BLOCK-----\nkey\n-----END PGP PUBLIC KEY BLOCK-----\n",
		"notes.txt":   "a file of the user's that is not a disk image\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	manifest := `version: 1
label: kit
firmware: [uefi-x64]
secure_boot:
  enroll: [./extra.crt]
  sign_with: {key: MOK.key, cert: MOK.crt}
isos:
  - name: alpha
    path: alpha.iso
    sha256: ` + strings.Repeat("a", 64) + `
  - name: beta
    url: https://example.invalid/beta.iso
    checksum: file:https://example.invalid/SHA256SUMS
    signature:
      url: https://example.invalid/SHA256SUMS.sig
      key: {fingerprint: ` + strings.Repeat("A", 40) + `, file: signing.asc}
`
	if err := os.WriteFile(filepath.Join(dir, "multiboot.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	cache = filepath.Join(dir, "cache")
	k, err := Load(filepath.Join(dir, "multiboot.yaml"), Options{Fetch: fetch.Options{CacheDir: cache, Offline: true}})
	if err != nil {
		t.Fatal(err)
	}
	return k, dir, cache
}

// TestApplyRefusesWhatItMustNotReplace names as the image, with --recreate,
// every file whose replacement would destroy something, under several
// names for the same file: apply refuses each before fetching anything,
// says which field names it, and leaves it as it was.
func TestApplyRefusesWhatItMustNotReplace(t *testing.T) {
	k, dir, cache := namingKit(t)
	in := func(name string) string { return filepath.Join(dir, name) }
	if err := os.Link(in("MOK.key"), in("hardlink.key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, in("dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(cache, "sha256"), 0o700); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, in("MOK.key"))
	if err != nil {
		t.Fatal(err)
	}
	const key = "it is the Secure Boot signing key (secure_boot.sign_with.key in multiboot.yaml)"
	cases := []struct {
		name, image, want string
		recreate          bool
	}{
		{"signing key", in("MOK.key"), key, true},
		{"signing key, relative with ./", "./" + rel, key, true},
		{"signing key through a hard link", in("hardlink.key"), key, true},
		{"signing key through a linked directory", in("dirlink/MOK.key"), key, true},
		{"signing key, in place", in("MOK.key"), key, false},
		{"signing certificate", in("MOK.crt"), "the Secure Boot signing certificate (secure_boot.sign_with.cert in multiboot.yaml)", true},
		{"enrolled certificate", in("extra.crt"), "a certificate to enrol (secure_boot.enroll[0] in multiboot.yaml)", true},
		{"signature key file", in("signing.asc"), "(isos[1].signature.key.file in multiboot.yaml)", true},
		{"path ISO", in("alpha.iso"), "it is the ISO alpha (isos[0].path in multiboot.yaml)", true},
		{"manifest", in("multiboot.yaml"), "it is the manifest", true},
		{"lock not written yet", in("multiboot.lock"), "it is the manifest's lock", true},
		{"in the cache", filepath.Join(cache, "sha256", "kit.img"), "it is inside the ISO cache", true},
		{"the program", exe, "it is the compose program itself", true},
		{"under /proc", "/proc/compose-test.img", "it is under /proc", true},
		{"not a disk image", in("notes.txt"), "it exists and is not a disk image", true},
		{"not a disk image, in place", in("notes.txt"), "it exists and is not a disk image", false},
		{"an ISO 9660 image without a boot sector", in("plain.iso"), "it exists and is not a disk image", true},
	}
	plain := make([]byte, 64<<10)
	copy(plain[32769:], "CD001")
	if err := os.WriteFile(in("plain.iso"), plain, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := os.ReadFile(c.image)
			_, err := k.Apply(context.Background(), ApplyOptions{Image: c.image, Recreate: c.recreate})
			if !errors.Is(err, imagefile.ErrUnsafeImage) || !errors.Is(err, ErrUnsafeTarget) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Apply(%s): got %v, want a refusal saying %q", c.image, err, c.want)
			}
			if strings.Contains(err.Error(), "unsafe target") {
				t.Errorf("the message ends in the sentinel's words: %v", err)
			}
			if after, _ := os.ReadFile(c.image); string(after) != string(before) {
				t.Errorf("%s was changed", c.image)
			}
			assertNothingFetched(t, cache)
			assertNoTemporaries(t, dir)
		})
	}
}

// TestImageTargetsAccepted: a new path, an empty file, a sparse or zeroed
// one and a disk image are what apply may write.
func TestImageTargetsAccepted(t *testing.T) {
	k, dir, _ := namingKit(t)
	in := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(in("empty.img"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in("sparse.img"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(in("sparse.img"), 1<<20); err != nil {
		t.Fatal(err)
	}
	mbr := make([]byte, 4096)
	copy(mbr, "not zero")
	mbr[510], mbr[511] = 0x55, 0xaa
	if err := os.WriteFile(in("disk.img"), mbr, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in("zeros.img"), make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{in("new.img"), in("empty.img"), in("sparse.img"), in("zeros.img"), in("disk.img")} {
		h, err := k.openImage(img, imagefile.Mode{Write: true, Recreate: true})
		if err != nil {
			t.Errorf("%s: %v", img, err)
			continue
		}
		h.Close()
	}
	assertNoTemporaries(t, dir)
}

// TestApplyChecksBeforeFetching: an image directory that does not exist
// and a device named twice are usage mistakes, found before anything is
// fetched.
func TestApplyChecksBeforeFetching(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	m := kit(t, dir, "uefi-x64", liveISO(t, dir, "alpha", "a"))
	cache := filepath.Join(dir, "cache")
	k, err := Load(m.File, Options{Fetch: fetch.Options{CacheDir: cache}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Apply(context.Background(), ApplyOptions{Image: filepath.Join(dir, "nosuch", "kit.img")})
	var de *imagefile.ImageDirError
	if !errors.Is(err, imagefile.ErrImageDir) || !errors.As(err, &de) || !strings.Contains(err.Error(), "nosuch does not exist") {
		t.Fatalf("missing image directory: got %v", err)
	}
	assertNothingFetched(t, cache)

	dev := loopDevice(t, 256<<20)
	link := filepath.Join(dir, "stick")
	if err := os.Symlink(dev, link); err != nil {
		t.Fatal(err)
	}
	_, err = k.Apply(context.Background(), ApplyOptions{Devices: []string{dev, link}, Force: true})
	if !errors.Is(err, ErrDuplicateDevice) {
		t.Fatalf("a device named twice: got %v", err)
	}
	assertNothingFetched(t, cache)
}

// TestStaleTemporariesCollected: what a killed apply left (a temporary
// image beside the image, a scratch directory in $TMPDIR) is removed by an
// in-place apply, by a boot test of the image, and by a device apply that
// converges in place; plan names it and leaves it.
func TestStaleTemporariesCollected(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat")
	dir, cache, img, two := twoKits(t, "uefi-x64")
	dead := filepath.Join(dir, ".kit.img.compose-apply-999999999-1.tmp")
	leave := func() {
		t.Helper()
		if err := os.WriteFile(dead, make([]byte, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k := loadKit(t, two, cache)
	leave()
	p, err := k.Plan(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(p.Warnings, "\n"), dead+" (4 KiB) was left by a killed apply; the next apply removes it") {
		t.Errorf("plan does not name the leftover: %q", p.Warnings)
	}
	if _, err := os.Stat(dead); err != nil {
		t.Fatalf("plan removed the leftover: %v", err)
	}
	if _, err := k.Apply(context.Background(), ApplyOptions{Image: img}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an in-place apply left %s: %v", dead, err)
	}
	leave()
	run, err := k.BootTest(context.Background(), TestOptions{Image: img})
	if err != nil {
		t.Fatal(err)
	}
	run.Close()
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a boot test of the image left %s: %v", dead, err)
	}

	// A device that holds the kit is converged in place: no scratch image,
	// yet the scratch directory a killed device apply left goes.
	dev := loopDevice(t, 256<<20)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if _, err := k.Apply(context.Background(), ApplyOptions{Devices: []string{dev}, Force: true}); err != nil {
		t.Fatal(err)
	}
	scratch := filepath.Join(tmp, "compose-apply-999999999-1")
	if err := os.Mkdir(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	res, err := k.Apply(context.Background(), ApplyOptions{Devices: []string{dev}, Force: true})
	if err != nil || len(res.Devices) != 1 || !res.Devices[0].Incremental {
		t.Fatalf("second device apply: %+v, %v", res, err)
	}
	if _, err := os.Stat(scratch); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a device apply left %s: %v", scratch, err)
	}
}

// assertNothingFetched fails when the cache holds any file.
func assertNothingFetched(t *testing.T, cache string) {
	t.Helper()
	filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("fetched before the refusal: %s", p)
		}
		return nil
	})
}

// assertNoTemporaries fails when dir holds a temporary image.
func assertNoTemporaries(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "compose-apply-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestApplyRefusesAMountedLoopImage: an image whose data partition is
// mounted through a loop device is not changed in place. Found by the
// recheck pass: apply changed the ext4 partition under the mount, and on
// umount the kernel wrote its cached block bitmap back over the change
// (e2fsck -fn: "Block bitmap differences"). plan refuses alike; a full
// rewrite renames a new file over the path, which leaves the mounted one
// alone, and is allowed; an attached loop device nobody mounted is fine.
func TestApplyRefusesAMountedLoopImage(t *testing.T) {
	testenv.Loop(t)
	testenv.Tools(t, "xorriso", "mount", "umount", "e2fsck")
	dir := t.TempDir()
	cache, img := filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	one := kitWith(t, dir, "firmware: [uefi-x64]\nstorage: data", liveISO(t, dir, "alpha", "a"))
	build(t, one, cache, img)
	v2 := filepath.Join(dir, "v2")
	os.Mkdir(v2, 0o755)
	two := kitWith(t, v2, "firmware: [uefi-x64]\nstorage: data", liveISO(t, v2, "beta", "b"))
	k := loadKit(t, two, cache)

	tg, err := converge.ReadTarget(img)
	if err != nil || tg.Data == nil {
		t.Fatalf("the kit has no data partition: %+v, %v", tg, err)
	}
	data := tg.Partitions[len(tg.Partitions)-1]
	dev := strings.TrimSpace(testenv.Run(t, "losetup", "-f", "--show", "-o", strconv.FormatInt(data.Offset, 10),
		"--sizelimit", strconv.FormatInt(data.Size, 10), img))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	mnt := t.TempDir()
	testenv.Run(t, "mount", "-t", "ext4", dev, mnt)
	mounted := true
	t.Cleanup(func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
	})
	want := "it is attached to the loop device " + dev + ", which is in use (" + dev + " on " + mnt + ")"
	if _, err := k.Plan(context.Background(), img); !errors.Is(err, imagefile.ErrUnsafeImage) || !strings.Contains(err.Error(), want) {
		t.Fatalf("plan: %v\nwant imagefile.ErrUnsafeImage: %s", err, want)
	}
	if _, err := k.Apply(context.Background(), ApplyOptions{Image: img}); !errors.Is(err, imagefile.ErrUnsafeImage) || !strings.Contains(err.Error(), want) {
		t.Fatalf("apply: %v\nwant imagefile.ErrUnsafeImage: %s", err, want)
	}
	testenv.Run(t, "umount", mnt)
	mounted = false
	if out, err := exec.Command("e2fsck", "-fn", dev).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn of the data partition after umount: %v\n%s", err, out)
	}
	if _, err := k.Apply(context.Background(), ApplyOptions{Image: img}); err != nil {
		t.Fatalf("apply with the loop device attached but not mounted: %v", err)
	}
}

// TestImagePathAsTheKernelResolvesIt: "link/../kit.img" names kit.img in
// the parent of where link leads, as every other tool reads it. Found by
// the recheck pass: apply cleaned the path lexically and wrote ./kit.img,
// another file than the one named. A trailing separator names a
// directory: refused, not taken as the file without it.
func TestImagePathAsTheKernelResolvesIt(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	m := kit(t, dir, "uefi-x64", liveISO(t, dir, "alpha", "a"))
	k := loadKit(t, m, filepath.Join(dir, "cache"))
	work, other := filepath.Join(dir, "work"), filepath.Join(dir, "other")
	if err := os.MkdirAll(filepath.Join(other, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(work, 0o755)
	if err := os.Symlink(filepath.Join(other, "sub"), filepath.Join(work, "link")); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(work, "link") + "/../kit.img"
	if _, err := k.Apply(context.Background(), ApplyOptions{Image: img}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(work, "kit.img")); err == nil {
		t.Fatal("the kit went to work/kit.img, which link/../kit.img does not name")
	}
	if tg := checkKit(t, filepath.Join(other, "kit.img")); !holdsISO(tg, "alpha") {
		t.Fatalf("other/kit.img: %+v", tg)
	}
	p, err := k.Plan(context.Background(), img)
	if err != nil || p.Diff == nil || !p.Diff.NoChanges {
		t.Fatalf("plan of the same path: %+v, %v", p, err)
	}
	_, err = k.Apply(context.Background(), ApplyOptions{Image: filepath.Join(other, "kit.img") + "/"})
	if !errors.Is(err, imagefile.ErrUnsafeImage) || !strings.Contains(err.Error(), "it ends in a path separator") {
		t.Fatalf("a trailing separator: %v", err)
	}
}
