package udf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// sourceTree writes the tree every image is built from: empty, one-block,
// block-straddling and multi-extent-sized files and a deep directory
// chain; with unicode, names that need 8-bit (Latin-1) and 16-bit
// (Japanese) OSTA compressed unicode.
func sourceTree(t testing.TB, unicode bool) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "src")
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	deep := strings.Repeat("d/", 24) + "leaf.txt"
	files := map[string][]byte{
		"empty":                     nil,
		"one.txt":                   []byte("1"),
		"block.bin":                 random(2048),
		"straddle.bin":              random(2049),
		"big.bin":                   random(3<<20 + 17),
		"sources/boot.wim":          random(70000),
		deep:                        []byte("deep"),
		"efi/boot/bootx64.efi":      random(4096),
		"dir with spaces/x y z.cfg": []byte("menuentry"),
	}
	if unicode {
		files["Ünïcödé café.txt"] = []byte("latin-1 name")
		files["名前/ファイル.txt"] = []byte("16-bit name")
	}
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// genisoimage builds a UDF 1.02 bridge image (ISO 9660 beside UDF), the
// shape oscdimg gives Windows ISOs.
func genisoimage(t testing.TB, src string) string {
	t.Helper()
	testenv.Tools(t, "genisoimage")
	iso := filepath.Join(t.TempDir(), "bridge.iso")
	testenv.Run(t, "genisoimage", "-quiet", "-udf", "-D", "-input-charset", "utf-8", "-V", "BRIDGE", "-o", iso, src)
	return iso
}

// mkudffs formats an image of size bytes at UDF revision rev (followed by
// more mkudffs options, if any) with Debian's udftools, then copies src into it with udfclient (NetBSD's UDF
// code in user space: no root, no kernel module). cmds are extra
// udfclient commands run after the copy, in the volume's root.
func mkudffs(t testing.TB, src, rev string, size int64, cmds ...string) string {
	t.Helper()
	testenv.Tools(t, "mkudffs", "udfclient")
	opts := strings.Fields(rev)
	img := filepath.Join(t.TempDir(), "udf.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	// No --blocksize: udfclient 0.8.11 finds no volume on an image file
	// formatted with an explicit one (2048 is what mkudffs picks anyway).
	args := append([]string{"--media-type=hd", "--udfrev=" + opts[0], "--label=UDFTEST", "--fullvsid=VS", "--fsid=FS"}, opts[1:]...)
	testenv.Run(t, "mkudffs", append(args, img)...)
	names, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("cd \"VS:UDFTEST:UDFTEST:FS\"\nlcd %q\n", src)
	for _, n := range names {
		script += fmt.Sprintf("mput %q\n", n.Name())
	}
	script += strings.Join(cmds, "\n") + "\nquit\n"
	cmd := exec.Command("udfclient", "-W", img)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("rror")) || !bytes.Contains(out, []byte("working directory is     /VS:")) {
		t.Fatalf("udfclient: %v\n%s", err, out)
	}
	return img
}

func openImage(t testing.TB, path string) *FS {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	u, err := Open(context.Background(), f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return u
}

// sameTree checks that u holds exactly src's files, byte for byte, read
// both whole and at offsets, and src's directories.
func sameTree(t *testing.T, u *FS, src string) {
	t.Helper()
	want := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		want[rel] = true
		st, err := u.Stat(rel)
		if err != nil {
			t.Errorf("stat %s: %v", rel, err)
			return nil
		}
		if st.IsDir() != d.IsDir() {
			t.Errorf("%s: IsDir %v, want %v", rel, st.IsDir(), d.IsDir())
		}
		if !d.IsDir() {
			sameFile(t, u, rel, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	err = fs.WalkDir(u, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." {
			got++
			if !want[p] {
				t.Errorf("image holds %s, the source does not", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the image: %v", err)
	}
	if got != len(want) {
		t.Errorf("image holds %d names, source %d", got, len(want))
	}
}

func sameFile(t *testing.T, u *FS, rel, p string) {
	t.Helper()
	wantData, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data, err := fs.ReadFile(u, rel)
	if err != nil {
		t.Errorf("read %s: %v", rel, err)
		return
	}
	if !bytes.Equal(data, wantData) {
		t.Errorf("%s: %d bytes differ from the source's %d", rel, len(data), len(wantData))
		return
	}
	f, err := u.Open(rel)
	if err != nil {
		t.Fatal(err)
	}
	ra := f.(io.ReaderAt)
	for _, off := range []int64{0, 1, 2047, 2048, int64(len(wantData)) / 2, int64(len(wantData)) - 1} {
		if off < 0 || off >= int64(len(wantData)) {
			continue
		}
		b := make([]byte, min(4099, int64(len(wantData))-off))
		if n, err := ra.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) || !bytes.Equal(b[:n], wantData[off:off+int64(n)]) || n != len(b) {
			t.Errorf("%s: ReadAt(%d): %d bytes, %v", rel, off, n, err)
		}
	}
}

func TestGenisoimageBridge(t *testing.T) {
	src := sourceTree(t, true)
	u := openImage(t, genisoimage(t, src))
	if u.Label != "BRIDGE" || u.Revision != 0x0102 {
		t.Errorf("label %q revision %#x, want BRIDGE 0x0102", u.Label, u.Revision)
	}
	sameTree(t, u, src)
}

// TestMkudffsRevisions reads images Debian's mkudffs formats and NetBSD's
// udfclient fills. udfclient writes a name's UTF-8 bytes as 8-bit
// characters, so the tree here is ASCII; TestGenisoimageBridge has the
// Unicode names.
func TestMkudffsRevisions(t *testing.T) {
	src := sourceTree(t, false)
	// The options vary how mkudffs writes the root directory's entry and
	// descriptors: plain file entries, short or long descriptors.
	for _, rev := range []string{"1.02", "1.50", "2.01", "2.01 --noefe --ad=short", "2.01 --ad=long"} {
		t.Run(rev, func(t *testing.T) {
			t.Parallel() // udfclient mostly waits (about 3 s an image)
			u := openImage(t, mkudffs(t, src, rev, 64<<20))
			want := uint16(rev[0]-'0')<<8 | uint16(rev[2]-'0')<<4 | uint16(rev[3]-'0')
			if u.Label != "UDFTEST" || u.Revision != want {
				t.Errorf("label %q revision %#x, want UDFTEST %#x", u.Label, u.Revision, want)
			}
			sameTree(t, u, src)
		})
	}
}

// mkudffs writes UDF 2.50 and 2.60 only for BD-R, with a virtual
// allocation table: refused, by name.
func TestMkudffsVirtualPartition(t *testing.T) {
	testenv.Tools(t, "mkudffs")
	img := filepath.Join(t.TempDir(), "bdr.img")
	if err := os.WriteFile(img, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "mkudffs", "--media-type=bdr", "--udfrev=2.60", img)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Open(context.Background(), f, 16<<20)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), `"*UDF Virtual Partition" partitions are not supported`) {
		t.Errorf("want the virtual partition refused, got %v", err)
	}
}

// TestOver4GiB reads a 4.5 GiB file (its first bytes data, the rest an
// unrecorded tail) in a UDF 2.01 image that stays a few MiB on disk.
func TestOver4GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 4.5 GiB")
	}
	src := t.TempDir()
	head := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	if err := os.WriteFile(filepath.Join(src, "install.wim"), head, 0o644); err != nil {
		t.Fatal(err)
	}
	const size = 4<<30 + 512<<20
	u := openImage(t, mkudffs(t, src, "2.01", 6<<30, fmt.Sprintf("trunc install.wim %d", size)))
	f, err := u.Open("install.wim")
	if err != nil {
		t.Fatal(err)
	}
	fl := f.(*File)
	if fl.Size() != size {
		t.Fatalf("size %d, want %d", fl.Size(), size)
	}
	if n := len(fl.n.e.ext.runs); n < 5 {
		t.Errorf("%d extents: a 4.5 GiB file needs at least 5 (an extent holds under 1 GiB)", n)
	}
	buf, want := make([]byte, 1<<20), make([]byte, 1<<20)
	var pos int64
	for {
		n, err := f.Read(buf)
		clear(want)
		if pos < int64(len(head)) {
			copy(want, head[pos:])
		}
		if !bytes.Equal(buf[:n], want[:n]) {
			t.Fatalf("the MiB at %d differs from the source", pos)
		}
		pos += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if pos != size {
		t.Errorf("read %d bytes, want %d", pos, size)
	}
}

func TestOSTANames(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
		bad  bool
	}{
		{in: []byte{8, 'a', 0xE9}, want: "aé"},
		{in: []byte{254, 'b'}, want: "b"},
		{in: []byte{16, 0x54, 0x0D, 0x52, 0x4D}, want: "名前"},
		{in: []byte{16, 0xD8, 0x3D, 0xDE, 0x00}, want: "😀"}, // a surrogate pair
		{in: []byte{255, 0, 'x'}, want: "x"},
		{in: []byte{16, 0, 'x', 0}, bad: true}, // odd length
		{in: []byte{7, 'x'}, bad: true},
		{in: nil, want: ""},
	} {
		got, err := osta(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("osta(% x) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
