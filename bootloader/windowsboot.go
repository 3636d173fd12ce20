package bootloader

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// WindowsEntry is a menu entry that starts a Windows installer from the FAT32 partition
// holding the ISO's files (each Windows entry has its own; GRUB never loops a Windows ISO:
// Windows Setup finds its files on a real partition only).
//
// GRUB finds that partition by Marker when set (a file only that partition holds, as
// data-partition entries do), else by Label (the FAT volume label). It then starts the
// ISO's own loader, not a copy: on UEFI `chainloader` of EFIX64 or EFIARM64, which under
// Secure Boot passes shim's verification (shim 16.1 hooks LoadImage; an image without an
// .sbat section is accepted there when the firmware's db or shim's keys sign it: proven
// with a db-signed stand-in, not a real bootmgfw.efi); on BIOS `ntldr` of BIOS, which
// starts bootmgr the way a volume boot record would.
type WindowsEntry struct {
	ID       string // unique among all entries; the manifest name
	Title    string // shown in the menu; "" shows ID
	Label    string // FAT volume label of the partition, searched when Marker is ""
	Marker   string // absolute path of a marker file on the partition, searched instead of Label
	EFIX64   string // path of the x86_64 EFI loader on the partition, e.g. /efi/boot/bootx64.efi; "" = none
	EFIARM64 string // path of the arm64 EFI loader, e.g. /efi/boot/bootaa64.efi; "" = none
	BIOS     string // path of the BIOS boot manager, e.g. /bootmgr; "" = none
}

var (
	winPathRe  = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)
	winLabelRe = regexp.MustCompile(`^[A-Z0-9_-]{1,11}$`)
)

// validateWindows checks the Windows entries against each other and the ids taken already
// (ISO entries and the fixed ones); it returns the ids with the Windows entries' added.
func validateWindows(ws []WindowsEntry, ids []string) ([]string, error) {
	for _, w := range ws {
		if w.ID == "" || slices.Contains(ids, w.ID) {
			return nil, fmt.Errorf("menu entry id %q: empty or used twice", w.ID)
		}
		ids = append(ids, w.ID)
		if err := w.validate(); err != nil {
			return nil, fmt.Errorf("windows entry %q: %w", w.ID, err)
		}
	}
	return ids, nil
}

func (w WindowsEntry) validate() error {
	switch {
	case w.Marker != "" && !winPathRe.MatchString(w.Marker):
		return fmt.Errorf("marker %q: want an absolute path of [A-Za-z0-9._/-]", w.Marker)
	case w.Marker == "" && !winLabelRe.MatchString(w.Label):
		// mkfs.fat and Windows store labels upper-case; GRUB's search compares them as stored.
		return fmt.Errorf("label %q: want 1-11 of [A-Z0-9_-] (or a marker file)", w.Label)
	case w.EFIX64 == "" && w.EFIARM64 == "" && w.BIOS == "":
		return fmt.Errorf("no loader: want an EFI loader or bootmgr")
	}
	for _, p := range []string{w.EFIX64, w.EFIARM64, w.BIOS} {
		if p != "" && !winPathRe.MatchString(p) {
			return fmt.Errorf("loader path %q: want an absolute path of [A-Za-z0-9._/-]", p)
		}
	}
	return nil
}

// guard is the condition under which some loader of w can run, the inside of a `[ ]`
// test: GRUB's script has no || or &&, but its test has -a binding tighter than -o.
func (w WindowsEntry) guard() string {
	var c []string
	if w.EFIX64 != "" {
		c = append(c, `"$grub_platform" = efi -a "$grub_cpu" = x86_64`)
	}
	if w.EFIARM64 != "" {
		c = append(c, `"$grub_platform" = efi -a "$grub_cpu" = arm64`)
	}
	if w.BIOS != "" {
		c = append(c, `"$grub_platform" = pc`)
	}
	return strings.Join(c, " -o ")
}

// ShownWindows reports whether the menu shows w when GRUB runs with $grub_platform and
// $grub_cpu set to platform and cpu (as Shown does for ISO entries).
func ShownWindows(w WindowsEntry, platform, cpu string) bool {
	return (platform == "efi" && cpu == "x86_64" && w.EFIX64 != "") ||
		(platform == "efi" && cpu == "arm64" && w.EFIARM64 != "") ||
		(platform == "pc" && w.BIOS != "")
}

// windowsEntry writes w's menu entry, shown only where one of its loaders can run. The
// search is checked: when it finds nothing, root stays on the ESP, whose
// /efi/boot/bootx64.efi is shim, and chainloading that would restart compose's own menu.
func (cw *cfgWriter) windowsEntry(w WindowsEntry) {
	cw.line(0, "if [ "+w.guard()+" ]; then")
	title := w.Title
	if title == "" {
		title = w.ID
	}
	cw.line(1, "menuentry", quote(title), "--id", quote(w.ID), "{")
	find := "search --no-floppy --set=root --label " + quote(w.Label)
	what := "label " + w.Label
	if w.Marker != "" {
		find = "search --no-floppy --set=root --file " + quote(w.Marker)
		what = "marker " + w.Marker
	}
	cw.line(2, "if "+find+"; then")
	cw.loaders(3, w)
	cw.line(2, "else")
	cw.line(3, "echo", quote("Windows partition not found ("+what+")"))
	cw.line(3, "sleep 5")
	cw.line(2, "fi")
	cw.line(1, "}")
	cw.line(0, "fi")
}

// loaders writes the platform and CPU choice the way the rest of grub.cfg does
// (if efi … else …), so one reading of the script tells which GRUB runs each command.
func (cw *cfgWriter) loaders(depth int, w WindowsEntry) {
	cw.line(depth, `if [ "$grub_platform" = efi ]; then`)
	var efi [][2]string
	for _, l := range [][2]string{{"x86_64", w.EFIX64}, {"arm64", w.EFIARM64}} {
		if l[1] != "" {
			efi = append(efi, l)
		}
	}
	for i, l := range efi {
		kw := "elif"
		if i == 0 {
			kw = "if"
		}
		cw.line(depth+1, kw, `[ "$grub_cpu" = `+l[0]+` ]; then`)
		cw.line(depth+2, "chainloader", quote(l[1]))
	}
	if len(efi) > 0 {
		cw.line(depth+1, "fi")
	} else { // unreachable behind the entry's guard; GRUB wants a command here
		cw.line(depth+1, "echo", quote("no EFI loader on this partition"))
	}
	if w.BIOS != "" {
		cw.line(depth, "else")
		cw.line(depth+1, "ntldr", quote(w.BIOS))
	}
	cw.line(depth, "fi")
}
