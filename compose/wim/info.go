package wim

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Errors a caller may branch on; every error wraps one of them.
var (
	// ErrNotWIM: the file does not start with a WIM header.
	ErrNotWIM = errors.New("not a WIM file")
	// ErrMalformed: the file has a WIM header but its fields, lookup
	// table or XML contradict each other or the file's size.
	ErrMalformed = errors.New("malformed WIM")
	// ErrUnsupported: a well-formed WIM this package cannot split
	// (solid resources, already split, compressed lookup table, …).
	ErrUnsupported = errors.New("unsupported WIM")
)

// MaxXMLSize bounds the XML data ReadInfo reads. Microsoft's install.wim
// with eleven editions carries tens of KiB of XML.
const MaxXMLSize = 16 << 20

// Info is what a WIM's header and XML data say about it.
type Info struct {
	Header     Header
	Size       int64  // the file's size
	TotalBytes uint64 // the XML's TOTALBYTES: the whole WIM's size when written
	Images     []Image
}

// Image is one image as the XML data describes it.
type Image struct {
	Index              int
	Name               string
	Description        string
	DisplayName        string
	DisplayDescription string
	Flags              string // FLAGS: the edition as DISM names it
	EditionID          string // WINDOWS/EDITIONID, e.g. "Professional"
	ProductName        string
	InstallationType   string // "Client", "Server", "WindowsPE", …
	Arch               string // "x86", "x64", "arm", "arm64", "ia64" or the raw number
	Languages          []string
	Version            string // major.minor.build.spbuild, when the XML has it
	TotalBytes         uint64 // bytes of file data in the image
	DirCount           uint64
	FileCount          uint64
}

// ReadInfo reads a WIM's (or one SWM part's) header and XML data from r,
// a file of size bytes. It reads at most HeaderSize + MaxXMLSize bytes.
func ReadInfo(r io.ReaderAt, size int64) (*Info, error) {
	h, err := readHeader(r, size)
	if err != nil {
		return nil, err
	}
	info := &Info{Header: *h, Size: size}
	if h.XML.StoredSize == 0 {
		return info, nil
	}
	raw, err := readXML(r, size, h.XML)
	if err != nil {
		return nil, err
	}
	if err := parseXML(raw, info); err != nil {
		return nil, err
	}
	return info, nil
}

func readHeader(r io.ReaderAt, size int64) (*Header, error) {
	if size < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a WIM header (%d)", ErrNotWIM, size, HeaderSize)
	}
	b := make([]byte, HeaderSize)
	if _, err := r.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("reading WIM header: %w", err)
	}
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	for _, res := range []struct {
		name string
		hdr  ResHdr
	}{{"lookup table", h.BlobTable}, {"XML data", h.XML}, {"integrity table", h.Integrity}, {"boot metadata", h.BootMetadata}} {
		if err := inFile(res.hdr, size); err != nil {
			return nil, fmt.Errorf("%s: %w", res.name, err)
		}
	}
	return h, nil
}

// inFile checks that a resource lies after the header and inside the file;
// an all-zero header means "absent".
func inFile(r ResHdr, size int64) error {
	if r.StoredSize == 0 && r.Offset == 0 {
		return nil
	}
	if r.Offset < HeaderSize || r.Offset > uint64(size) || r.StoredSize > uint64(size)-r.Offset {
		return fmt.Errorf("%w: %d bytes at offset %d, outside the file's %d bytes", ErrMalformed, r.StoredSize, r.Offset, size)
	}
	return nil
}

func readXML(r io.ReaderAt, size int64, res ResHdr) ([]byte, error) {
	if res.Flags&(ResCompressed|ResSolid) != 0 {
		return nil, fmt.Errorf("%w: compressed XML data (resource flags %#x)", ErrUnsupported, res.Flags)
	}
	if res.StoredSize > MaxXMLSize {
		return nil, fmt.Errorf("%w: XML data of %d bytes, over the %d this reader accepts", ErrMalformed, res.StoredSize, MaxXMLSize)
	}
	b := make([]byte, res.StoredSize)
	if _, err := r.ReadAt(b, int64(res.Offset)); err != nil {
		return nil, fmt.Errorf("reading XML data at offset %d: %w", res.Offset, err)
	}
	return b, nil
}

// xmlImage mirrors the parts of an IMAGE element this package reports.
type xmlImage struct {
	Index              string `xml:"INDEX,attr"`
	Name               string `xml:"NAME"`
	Description        string `xml:"DESCRIPTION"`
	DisplayName        string `xml:"DISPLAYNAME"`
	DisplayDescription string `xml:"DISPLAYDESCRIPTION"`
	Flags              string `xml:"FLAGS"`
	TotalBytes         string `xml:"TOTALBYTES"`
	DirCount           string `xml:"DIRCOUNT"`
	FileCount          string `xml:"FILECOUNT"`
	Windows            struct {
		Arch             string   `xml:"ARCH"`
		ProductName      string   `xml:"PRODUCTNAME"`
		EditionID        string   `xml:"EDITIONID"`
		InstallationType string   `xml:"INSTALLATIONTYPE"`
		Languages        []string `xml:"LANGUAGES>LANGUAGE"`
		Version          struct {
			Major   string `xml:"MAJOR"`
			Minor   string `xml:"MINOR"`
			Build   string `xml:"BUILD"`
			SPBuild string `xml:"SPBUILD"`
		} `xml:"VERSION"`
	} `xml:"WINDOWS"`
}

// MaxImages is the most images a WIM may hold (wimlib's limit too); XML
// data describing more is refused before it costs more memory.
const MaxImages = 65535

func parseXML(raw []byte, info *Info) error {
	text, err := decodeUTF16(raw)
	if err != nil {
		return err
	}
	dec := xml.NewDecoder(strings.NewReader(text))
	// The text is already decoded: a declaration naming UTF-16 is true of
	// the bytes on disk, not of the string.
	dec.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	if err := decodeWIM(dec, info); err != nil {
		return fmt.Errorf("%w: XML data: %v", ErrMalformed, err)
	}
	return nil
}

// decodeWIM reads the WIM element's TOTALBYTES and IMAGEs one at a time,
// so that a flood of images stops at MaxImages.
func decodeWIM(dec *xml.Decoder, info *Info) error {
	depth, root := 0, false
	for {
		tok, err := dec.Token()
		if err == io.EOF && root {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if root || t.Name.Local != "WIM" {
					return fmt.Errorf("root element %s, want one WIM", t.Name.Local)
				}
				root = true
			}
			if depth == 1 && t.Name.Local == "IMAGE" {
				if len(info.Images) == MaxImages {
					return fmt.Errorf("more than %d images", MaxImages)
				}
				var x xmlImage
				if err := dec.DecodeElement(&x, &t); err != nil {
					return err
				}
				info.Images = append(info.Images, x.image(len(info.Images)+1))
				continue
			}
			if depth == 1 && t.Name.Local == "TOTALBYTES" {
				var v string
				if err := dec.DecodeElement(&v, &t); err != nil {
					return err
				}
				info.TotalBytes = number(v)
				continue
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

func decodeUTF16(raw []byte) (string, error) {
	if len(raw)%2 != 0 {
		return "", fmt.Errorf("%w: XML data of odd length %d is not UTF-16", ErrMalformed, len(raw))
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	if len(u) > 0 && u[0] == 0xfeff {
		u = u[1:]
	}
	return string(utf16.Decode(u)), nil
}

func (x xmlImage) image(pos int) Image {
	im := Image{
		Index:              pos,
		Name:               x.Name,
		Description:        x.Description,
		DisplayName:        x.DisplayName,
		DisplayDescription: x.DisplayDescription,
		Flags:              x.Flags,
		EditionID:          x.Windows.EditionID,
		ProductName:        x.Windows.ProductName,
		InstallationType:   x.Windows.InstallationType,
		Arch:               archName(x.Windows.Arch),
		Languages:          x.Windows.Languages,
		TotalBytes:         number(x.TotalBytes),
		DirCount:           number(x.DirCount),
		FileCount:          number(x.FileCount),
	}
	if n, err := strconv.Atoi(strings.TrimSpace(x.Index)); err == nil && n > 0 {
		im.Index = n
	}
	if v := x.Windows.Version; v.Major != "" {
		im.Version = strings.Join([]string{v.Major, v.Minor, v.Build, v.SPBuild}, ".")
	}
	return im
}

// number parses a decimal count; the XML is metadata, so a value that is
// not one reads as 0 rather than failing the whole WIM.
func number(s string) uint64 {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// archName maps WINDOWS/ARCH (a PROCESSOR_ARCHITECTURE_* value) to a name.
func archName(s string) string {
	switch strings.TrimSpace(s) {
	case "":
		return ""
	case "0":
		return "x86"
	case "5":
		return "arm"
	case "6":
		return "ia64"
	case "9":
		return "x64"
	case "12":
		return "arm64"
	}
	return strings.TrimSpace(s)
}
