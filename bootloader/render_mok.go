package bootloader

import (
	"fmt"
	"path"
	"strings"
)

// mokManagerEntry starts MokManager from the stick. Its title names the certificates the
// kit carries, so a user knows what to pick under "Enroll key from disk".
func (w *cfgWriter) mokManagerEntry(m Menu) {
	title := "MOK manager (enroll a vendor key for Secure Boot)"
	if len(m.Keys) > 0 {
		var names []string
		for _, k := range m.Keys {
			names = append(names, path.Base(k))
		}
		title = "MOK manager: enroll " + KeysDir + "/" + strings.Join(names, ", ")
		if len(title) > 76 { // GRUB's menu box is 80 columns; longer titles are cut
			title = "MOK manager: enroll the keys in " + KeysDir
		}
	}
	w.line(0, `if [ "$grub_platform" = efi ]; then`)
	w.line(1, "menuentry "+quote(title)+" --id "+IDMokManager+" {")
	for _, k := range m.Keys {
		w.line(2, "echo", quote("Enroll key from disk: "+k))
	}
	w.line(2, `if [ "$grub_cpu" = arm64 ]; then chainloader /EFI/BOOT/mmaa64.efi; else chainloader /EFI/BOOT/mmx64.efi; fi`)
	w.line(1, "}")
	w.line(0, "fi")
}

// payloadPath is how GRUB names a payload of e: its copy on the ESP when it has one
// (paths of [A-Za-z0-9._/-], checked by validateCopies), else the file in the ISO.
func (w *cfgWriter) payloadPath(e Entry, isoPath string) string {
	if c, ok := e.Copies[isoPath]; ok {
		return espCopy(c)
	}
	return quote(w.in(isoPath))
}

// espCopy names a file on the ESP from inside an entry, whose $root has moved to the ISO's
// partition: compose_root is the ESP, set at the top of grub.cfg.
func espCopy(p string) string { return `"(${compose_root})` + p + `"` }

func validateCopies(e Entry) error {
	for from, to := range e.Copies {
		if !isoPathRe.MatchString(to) {
			return fmt.Errorf("menu entry %q: copy of %s at %q: want an absolute path of [A-Za-z0-9._/-]", e.ID, from, to)
		}
	}
	return nil
}
