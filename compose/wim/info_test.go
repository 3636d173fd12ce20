package wim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestReadInfoAgainstWiminfo reads WIMs wimcapture built, with several
// images and every compression kind, and checks each field against what
// wiminfo says of the same file.
func TestReadInfoAgainstWiminfo(t *testing.T) {
	testenv.Tools(t, "wimcapture", "wimappend", "wiminfo")
	dir := t.TempDir()
	trees := []string{filepath.Join(dir, "t1"), filepath.Join(dir, "t2")}
	makeTree(t, trees[0], 1, 12)
	makeTree(t, trees[1], 2, 7)
	for _, tc := range []struct {
		compress, want string
		solid          bool
		extra          []string
	}{
		{"none", "none", false, nil},
		{"xpress", "xpress", false, nil},
		{"lzx", "lzx", false, []string{"--check"}},
		{"lzms", "lzms", true, []string{"--solid"}},
	} {
		t.Run(tc.compress, func(t *testing.T) {
			path := filepath.Join(dir, tc.compress+".wim")
			capture(t, path, tc.compress, trees, tc.extra...)
			testenv.Run(t, "wiminfo", path, "1",
				"--image-property", "WINDOWS/EDITIONID=Professional",
				"--image-property", "WINDOWS/ARCH=9",
				"--image-property", "DISPLAYNAME=Windows 11 Pro",
				"--image-property", "FLAGS=Professional")
			testenv.Run(t, "wiminfo", path, "2", "--image-property", "WINDOWS/ARCH=12")
			info := openInfo(t, path)
			out := testenv.Run(t, "wiminfo", path)
			h := info.Header
			if got, want := fmt.Sprintf("0x%x", h.GUID), wiminfoField(out, "GUID"); got != want {
				t.Errorf("GUID %s, wiminfo %s", got, want)
			}
			if got := h.Compression(); got != tc.want {
				t.Errorf("compression %q, want %q (wiminfo: %s)", got, tc.want, wiminfoField(out, "Compression"))
			}
			if h.Solid() != tc.solid {
				t.Errorf("Solid() = %v, want %v", h.Solid(), tc.solid)
			}
			if got := fmt.Sprintf("%d/%d", h.PartNumber, h.TotalParts); got != wiminfoField(out, "Part Number") {
				t.Errorf("part %s, wiminfo %s", got, wiminfoField(out, "Part Number"))
			}
			if got := fmt.Sprint(h.ImageCount); got != wiminfoField(out, "Image Count") || len(info.Images) != 2 {
				t.Errorf("image count %s (%d in XML), wiminfo %s", got, len(info.Images), wiminfoField(out, "Image Count"))
			}
			if (h.Integrity.StoredSize != 0) != (len(tc.extra) > 0 && tc.extra[0] == "--check") {
				t.Errorf("integrity table %+v with wimcapture %v", h.Integrity, tc.extra)
			}
			checkImagesAgainstWiminfo(t, path, info)
			im := info.Images[0]
			if im.EditionID != "Professional" || im.Arch != "x64" || im.DisplayName != "Windows 11 Pro" || im.Flags != "Professional" {
				t.Errorf("image 1: %+v", im)
			}
			if info.Images[1].Arch != "arm64" {
				t.Errorf("image 2 arch %q, want arm64", info.Images[1].Arch)
			}
		})
	}
}

func checkImagesAgainstWiminfo(t *testing.T, path string, info *Info) {
	t.Helper()
	for _, im := range info.Images {
		out := testenv.Run(t, "wiminfo", path, fmt.Sprint(im.Index))
		for key, got := range map[string]string{
			"Index":           fmt.Sprint(im.Index),
			"Name":            im.Name,
			"Directory Count": fmt.Sprint(im.DirCount),
			"File Count":      fmt.Sprint(im.FileCount),
			"Total Bytes":     fmt.Sprint(im.TotalBytes),
		} {
			if want := wiminfoField(out, key); got != want {
				t.Errorf("image %d %s: %q, wiminfo %q", im.Index, key, got, want)
			}
		}
		if im.TotalBytes == 0 || im.FileCount == 0 {
			t.Errorf("image %d: no sizes read: %+v", im.Index, im)
		}
	}
}

// synthWIM builds a minimal WIM in memory: a header and XML data, with
// ver the version and flags the header flags.
func synthWIM(xmlText string, ver, flags uint32) []byte {
	u := utf16.Encode([]rune("\ufeff" + xmlText))
	x := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(x[2*i:], c)
	}
	h := Header{Version: ver, Flags: flags, ChunkSize: 32768, PartNumber: 1, TotalParts: 1, ImageCount: 1,
		XML: ResHdr{StoredSize: uint64(len(x)), Offset: HeaderSize, OrigSize: uint64(len(x))}}
	copy(h.GUID[:], "0123456789abcdef")
	return append(h.encode(), x...)
}

const synthXML = `<?xml version="1.0" encoding="UTF-16"?><WIM><TOTALBYTES>4242</TOTALBYTES>` +
	`<IMAGE INDEX="1"><NAME>Windows 11 Home</NAME><DIRCOUNT>3</DIRCOUNT><FILECOUNT>9</FILECOUNT><TOTALBYTES>1000</TOTALBYTES>` +
	`<WINDOWS><ARCH>9</ARCH><PRODUCTNAME>Microsoft® Windows® Operating System</PRODUCTNAME><EDITIONID>Core</EDITIONID>` +
	`<INSTALLATIONTYPE>Client</INSTALLATIONTYPE><LANGUAGES><LANGUAGE>en-US</LANGUAGE><DEFAULT>en-US</DEFAULT></LANGUAGES>` +
	`<VERSION><MAJOR>10</MAJOR><MINOR>0</MINOR><BUILD>22621</BUILD><SPBUILD>1702</SPBUILD></VERSION></WINDOWS>` +
	`<DISPLAYNAME>Windows 11 Home</DISPLAYNAME><FLAGS>Core</FLAGS></IMAGE></WIM>`

// TestReadInfoWindowsXML reads the fields of a Windows installer's XML
// (as Microsoft's install.wim carries them, with a declaration naming
// UTF-16), which wimcapture cannot produce.
func TestReadInfoWindowsXML(t *testing.T) {
	b := synthWIM(synthXML, VersionDefault, FlagCompression|FlagCompressLZX)
	info, err := ReadInfo(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if info.TotalBytes != 4242 || len(info.Images) != 1 {
		t.Fatalf("info %+v", info)
	}
	im := info.Images[0]
	want := Image{Index: 1, Name: "Windows 11 Home", DisplayName: "Windows 11 Home", Flags: "Core", EditionID: "Core",
		ProductName: "Microsoft® Windows® Operating System", InstallationType: "Client", Arch: "x64",
		Languages: []string{"en-US"}, Version: "10.0.22621.1702", TotalBytes: 1000, DirCount: 3, FileCount: 9}
	if fmt.Sprintf("%+v", im) != fmt.Sprintf("%+v", want) {
		t.Errorf("image\n got %+v\nwant %+v", im, want)
	}
	if info.Header.Compression() != "lzx" || info.Header.Solid() {
		t.Errorf("header %+v", info.Header)
	}
}

// TestReadInfoMalformed feeds broken headers and XML: each is an error
// wrapping the sentinel a caller branches on, saying what is wrong.
func TestReadInfoMalformed(t *testing.T) {
	good := synthWIM(synthXML, VersionDefault, 0)
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		b    []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrNotWIM, "shorter than a WIM header"},
		{"short", good[:100], ErrNotWIM, "shorter than a WIM header"},
		{"magic", edit(func(b []byte) []byte { b[0] = 'X'; return b }), ErrNotWIM, "magic"},
		{"pipable", edit(func(b []byte) []byte { copy(b, pipableMagic); return b }), ErrNotWIM, "pipable"},
		{"header size", edit(func(b []byte) []byte { b[8] = 200; return b }), ErrMalformed, "header size 200"},
		{"part 0", edit(func(b []byte) []byte { b[40] = 0; return b }), ErrMalformed, "part 0 of 1"},
		{"part 3 of 2", edit(func(b []byte) []byte { b[40], b[42] = 3, 2; return b }), ErrMalformed, "part 3 of 2"},
		{"xml past end", edit(func(b []byte) []byte { b[72+8] = 0xff; return b }), ErrMalformed, "XML data"},
		{"xml huge size", edit(func(b []byte) []byte { b[72+6] = 0xff; return b }), ErrMalformed, "outside the file"},
		{"xml in header", edit(func(b []byte) []byte { b[72+8] = 0; return b }), ErrMalformed, "outside the file"},
		{"xml odd", edit(func(b []byte) []byte { b[72]--; return b[:len(b)-1] }), ErrMalformed, "odd length"},
		{"xml compressed", edit(func(b []byte) []byte { b[72+7] = ResCompressed; return b }), ErrUnsupported, "compressed XML"},
		{"xml broken", synthWIM("<WIM><IMAGE></WIM>", VersionDefault, 0), ErrMalformed, "XML data"},
		{"xml empty", synthWIM("", VersionDefault, 0), ErrMalformed, "XML data: EOF"},
		{"xml root", synthWIM("<WIN></WIN>", VersionDefault, 0), ErrMalformed, "root element WIN, want one WIM"},
		{"xml two roots", synthWIM("<WIM></WIM><WIM></WIM>", VersionDefault, 0), ErrMalformed, "root element WIM, want one WIM"},
		{"image flood", synthWIM("<WIM>"+strings.Repeat("<IMAGE/>", MaxImages+1)+"</WIM>", VersionDefault, 0), ErrMalformed, "more than 65535 images"},
		{"table past end", edit(func(b []byte) []byte { b[48] = 1; b[48+8] = 0xff; b[48+9] = 0xff; return b }), ErrMalformed, "lookup table"},
		{"integrity past end", edit(func(b []byte) []byte { b[124] = 0xff; b[124+8] = 0xff; b[124+9] = 0xff; return b }), ErrMalformed, "integrity table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadInfo(bytes.NewReader(tc.b), int64(len(tc.b)))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v saying %q", err, tc.want, tc.msg)
			}
		})
	}
}

// FuzzReadInfo: no input panics, reads past MaxXMLSize or reports an
// image the XML does not hold.
func FuzzReadInfo(f *testing.F) {
	f.Add(synthWIM(synthXML, VersionDefault, 0))
	f.Add(synthWIM("<WIM></WIM>", VersionSolid, FlagCompression|FlagCompressLZMS))
	if b, err := os.ReadFile(filepath.Join("testdata", "small.wim")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &countingReader{b: b}
		info, err := ReadInfo(r, int64(len(b)))
		if r.read > HeaderSize+MaxXMLSize {
			t.Fatalf("read %d bytes", r.read)
		}
		if err != nil {
			if !errors.Is(err, ErrNotWIM) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if len(info.Images) > len(b)/len("<IMAGE/>") {
			t.Fatalf("%d images from %d bytes", len(info.Images), len(b))
		}
	})
}

type countingReader struct {
	b    []byte
	read int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.read += len(p)
	return bytes.NewReader(c.b).ReadAt(p, off)
}
