package compose

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/config"
)

// maxUnattend bounds an answer file: real ones are a few KiB to a few
// hundred.
const maxUnattend = 4 << 20

const unattendPath = "/autounattend.xml"

// addUnattend reads the entry's answer file, checks that it is
// well-formed XML, and puts it at the partition's root.
func (w *WindowsPlan) addUnattend(iso *config.ISO) error {
	b, err := readUnattend(iso.LocalUnattend)
	if err != nil {
		return err
	}
	if err := wellFormed(b); err != nil {
		return fmt.Errorf("%s:%w", iso.Unattend, err)
	}
	w.Unattend = iso.Unattend
	w.volume.Files = slices.DeleteFunc(slices.Clone(w.volume.Files), func(f disk.File) bool {
		return strings.EqualFold(f.Path, unattendPath) // Setup would read the ISO's otherwise
	})
	w.volume.Files = append(w.volume.Files, disk.File{Path: unattendPath, Data: b})
	return nil
}

func readUnattend(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUnattend+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxUnattend {
		return nil, fmt.Errorf("%s is over %d bytes; an answer file is a few KiB", path, maxUnattend)
	}
	return b, nil
}

// wellFormed checks b is one well-formed XML document; the error starts
// with LINE:COL.
func wellFormed(b []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(b))
	roots, depth := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, col := dec.InputPos()
			return fmt.Errorf("%d:%d: not well-formed XML: %v", line, col, err)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	line, col := dec.InputPos()
	if roots != 1 {
		return fmt.Errorf("%d:%d: not well-formed XML: %d root elements, want 1", line, col, roots)
	}
	return nil
}

// unattendID is what the ESP's id file says of the answer file, so that a
// changed one changes the record.
func (w *WindowsPlan) unattendID() string {
	for _, f := range w.volume.Files {
		if f.Path == unattendPath && f.Data != nil {
			s := sha256.Sum256(f.Data)
			return " unattend sha256:" + hex.EncodeToString(s[:])
		}
	}
	return ""
}
