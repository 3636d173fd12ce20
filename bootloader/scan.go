package bootloader

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/usbkit/compose/bootloader/authenticode"
)

const loopbackCfgPath = "/boot/grub/loopback.cfg"

// Directories that hold packages or firmware, never a kernel: skipping them keeps a scan of
// a full DVD short.
var skipDirs = map[string]bool{"pool": true, "dists": true, "firmware": true, "packages": true, "Packages": true, "repodata": true}

var (
	kernelRe = regexp.MustCompile(`(?i)^(vmlinuz.*|vmlinux|linux|linux64|bzimage|kernel|gentoo)$`)
	initrdRe = regexp.MustCompile(`(?i)^(initrd.*|initramfs.*|[a-z0-9_-]+\.img|[a-z0-9_-]+\.igz)$`)
	ucodeRe  = regexp.MustCompile(`(?i)^(intel|amd)[-_]ucode\.img$`)
	loaderRe = regexp.MustCompile(`(?i)^/efi/boot/boot(x64|aa64|ia32)\.efi$`)
	// .img files that are not initrds: El Torito and EFI images, live root images, floppies.
	notInitrdRe = regexp.MustCompile(`(?i)^(efiboot|efi|boot|eltorito|floppy|install|squashfs|rootfs|splash|memtest.*|macboot|.*-fallback)\.img$`)
	skipSuffix  = regexp.MustCompile(`(?i)\.(sig|hmac|md5|sha256|asc|cfg|txt|c32|bin)$`)
)

// tree is what a scan of the ISO found.
type tree struct {
	fsys       fs.FS
	files      map[string]bool
	dirs       map[string][]string // dir -> file names
	indexes    map[string]*dirIndex
	kernels    []kernelPair
	efiLoaders map[Arch]string
	efiImage   string
	biosKernel string
}

type kernelPair struct {
	path    string
	initrds []string
}

// scanTree lists the ISO's files (walk.go bounds the walk and refuses
// trees that loop).
func scanTree(fsys fs.FS) (*tree, error) {
	t := &tree{fsys: fsys, files: map[string]bool{}, dirs: map[string][]string{}, indexes: map[string]*dirIndex{}, efiLoaders: map[Arch]string{}}
	w := &walker{fsys: fsys, t: t, extents: map[int64]string{}}
	if err := w.run(); err != nil {
		return nil, err
	}
	t.classify()
	return t, nil
}

func (t *tree) classify() {
	for f := range t.files {
		if m := loaderRe.FindStringSubmatch(f); m != nil {
			t.efiLoaders[map[string]Arch{"x64": X86_64, "aa64": ARM64, "ia32": IA32}[strings.ToLower(m[1])]] = f
		}
		switch strings.ToLower(f) {
		case "/efi.img", "/esp.img": // Debian's ipxe.iso, upstream iPXE
			t.efiImage = f
		case "/ipxe.krn", "/ipxe.lkrn":
			t.biosKernel = f
		}
	}
	for _, names := range t.dirs {
		slices.Sort(names) // before any pairing: ties between initrds go to the first name
	}
	if t.biosKernel == "" {
		t.biosKernel = t.biosImage()
	}
	for dir, names := range t.dirs {
		for _, n := range names {
			if kernelRe.MatchString(n) && !skipSuffix.MatchString(n) && !strings.HasPrefix(n, ".") {
				k := path.Join(dir, n)
				t.kernels = append(t.kernels, kernelPair{k, t.initrdsFor(dir, n)})
			}
		}
	}
	slices.SortFunc(t.kernels, func(a, b kernelPair) int { return strings.Compare(a.path, b.path) })
}

// initrdsFor pairs a kernel with the initrd beside it (the name sharing the kernel's suffix
// wins: vmlinuz-linux ↔ initramfs-linux.img, vmlinuz-6.1.0-18-amd64 ↔ initrd.img-6.1.0-18-amd64),
// preceded by any CPU microcode found beside it or one level up. The directory's candidates
// are classified once (dirIndex), so a directory of thousands of kernels stays fast.
func (t *tree) initrdsFor(dir, kernel string) []string {
	suffix := strings.TrimPrefix(strings.ToLower(kernel), "vmlinuz")
	suffix = strings.TrimSuffix(suffix, ".efi")
	idx := t.index(dir)
	var best string
	for i, n := range idx.initrds { // best first: prefix initrd/initramfs, then shortest
		if n == kernel {
			continue
		}
		if suffix != "" && strings.Contains(idx.lower[i], suffix) {
			best = n
			break
		}
		if best == "" {
			best = n
		}
	}
	var out []string
	out = append(out, idx.ucode...)
	if dir != "/" {
		out = append(out, t.index(path.Dir(dir)).ucode...)
	}
	slices.Sort(out) // amd before intel; order between them does not matter to the kernel
	if best != "" {
		out = append(out, path.Join(dir, best))
	}
	return out
}

// dirIndex is one directory's initrd candidates, best first, and its microcode.
type dirIndex struct {
	initrds, lower []string
	ucode          []string // full paths
}

func (t *tree) index(dir string) *dirIndex {
	if idx, ok := t.indexes[dir]; ok {
		return idx
	}
	idx := &dirIndex{}
	for _, n := range t.dirs[dir] {
		switch {
		case ucodeRe.MatchString(n):
			idx.ucode = append(idx.ucode, path.Join(dir, n))
		case initrdRe.MatchString(n) && !notInitrdRe.MatchString(n) && !skipSuffix.MatchString(n):
			idx.initrds = append(idx.initrds, n)
		}
	}
	bonus := func(n string) int {
		l := strings.ToLower(n)
		if strings.HasPrefix(l, "initrd") || strings.HasPrefix(l, "initramfs") {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(idx.initrds, func(a, b string) int {
		if c := bonus(a) - bonus(b); c != 0 {
			return c
		}
		return len(a) - len(b)
	})
	for _, n := range idx.initrds {
		idx.lower = append(idx.lower, strings.ToLower(n))
	}
	t.indexes[dir] = idx
	return idx
}

func (t *tree) hasDir(d string) bool {
	for f := range t.files {
		if strings.HasPrefix(strings.ToLower(f), strings.ToLower(d)+"/") {
			return true
		}
	}
	return false
}

// detectFamily returns "" when nothing matches. It records in d why the ISO's own
// loopback.cfg was passed over, if it was.
func (t *tree) detectFamily(d *Detection, ov Overrides) Family {
	if t.isWindows() {
		return "" // its EFI loader would start, then fail to find its install media
	}
	own := t.ownFamily()
	if t.files[loopbackCfgPath] && t.useLoopbackCfg(d, ov, own) {
		return LoopbackCfg
	}
	return own
}

// ownFamily is compose's own detection, without the ISO's loopback.cfg.
func (t *tree) ownFamily() Family {
	for _, f := range kernelFamilies {
		if k, ok := t.pick(f); ok && len(k.initrds) > 0 {
			return f
		}
	}
	if t.efiImage != "" || len(t.efiLoaders) > 0 {
		if _, ok := t.pick(Linux); !ok {
			return EFI
		}
	}
	if _, ok := t.pick(Linux); ok {
		return Linux
	}
	return ""
}

// pick chooses the kernel a family boots, by where that family keeps it.
func (t *tree) pick(f Family) (kernelPair, bool) {
	var prefer []func(string) bool
	switch f {
	case Casper:
		prefer = []func(string) bool{under("/casper/"), under("/casper")} // Pop!_OS: /casper_<suffix>/
	case Live:
		prefer = []func(string) bool{under("/live/"), t.isGrmlKernel}
	case Dracut:
		if !t.hasDir("/LiveOS") && !t.isGentooDracut() {
			return kernelPair{}, false
		}
		prefer = []func(string) bool{under("/images/pxeboot/"), under("/isolinux/"), isSUSELoader, under("/boot/")}
	case Archiso:
		prefer = []func(string) bool{t.isArchisoKernel}
	case EFI:
		return kernelPair{}, false
	case Linux:
		prefer = []func(string) bool{func(string) bool { return true }}
	default:
		if f == NixOS {
			return t.pickNixOS()
		}
		if prefer = t.familyKernelDirs(f); prefer == nil {
			return kernelPair{}, false
		}
	}
	for _, ok := range prefer {
		var cands []kernelPair
		for _, k := range t.kernels {
			if ok(k.path) {
				cands = append(cands, k)
			}
		}
		if len(cands) > 0 {
			return bestKernel(cands), true
		}
	}
	return kernelPair{}, false
}

var suseLoaderRe = regexp.MustCompile(`^/boot/[^/]+/loader/`)

// isSUSELoader: kiwi-built live ISOs keep the kernel in /boot/<arch>/loader/.
func isSUSELoader(p string) bool { return suseLoaderRe.MatchString(p) }

// isArchisoKernel: /<base>/boot/<arch>/vmlinuz* with /<base>/<arch>/airootfs.{sfs,erofs}.
func (t *tree) isArchisoKernel(p string) bool {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) != 4 || parts[1] != "boot" {
		return false
	}
	base, arch := "/"+parts[0], parts[2]
	return t.files[base+"/"+arch+"/airootfs.sfs"] || t.files[base+"/"+arch+"/airootfs.erofs"]
}

// bestKernel prefers a kernel with an initrd, then x86_64 over other arches, then the shallowest
// and shortest name (vmlinuz over vmlinuz-hwe).
func bestKernel(c []kernelPair) kernelPair {
	rank := func(k kernelPair) []int {
		r := []int{0, 0, strings.Count(k.path, "/"), len(path.Base(k.path))}
		if len(k.initrds) == 0 {
			r[0] = 1
		}
		if a := archFromPath(k.path); a != "" && a != X86_64 {
			r[1] = 1
		}
		return r
	}
	return slices.MinFunc(c, func(a, b kernelPair) int { return slices.Compare(rank(a), rank(b)) })
}

func (t *tree) pairFor(kernel string) (kernelPair, bool) {
	for _, k := range t.kernels {
		if k.path == kernel {
			return k, true
		}
	}
	return kernelPair{}, false
}

var archDirs = map[string]Arch{"x86_64": X86_64, "amd64": X86_64, "install.amd": X86_64, "x64": X86_64,
	"arm64": ARM64, "aarch64": ARM64, "install.a64": ARM64, "i686": IA32, "i386": IA32, "install.386": IA32}

func archFromPath(p string) Arch {
	for _, c := range strings.Split(strings.ToLower(p), "/") {
		if a, ok := archDirs[c]; ok {
			return a
		}
	}
	if strings.HasSuffix(strings.ToLower(p), "-amd64") {
		return X86_64
	}
	if strings.HasSuffix(strings.ToLower(p), "-arm64") {
		return ARM64
	}
	return ""
}

// arches: the kernel's own header when it says, else its directory names, else the EFI
// loaders the ISO ships. Empty means unknown (the entry is then shown everywhere).
func (t *tree) arches(d Detection) []Arch {
	if d.Family == EFI {
		var out []Arch
		for a := range d.EFILoaders {
			out = append(out, a)
		}
		if d.EFIImage != "" && !slices.Contains(out, X86_64) {
			out = append(out, X86_64)
		}
		slices.Sort(out)
		return out
	}
	if d.Kernel != "" {
		if a := kernelArch(t.fsys, d.Kernel); a != "" {
			return []Arch{a}
		}
		if a := archFromPath(d.Kernel); a != "" {
			return []Arch{a}
		}
	}
	var out []Arch
	for a := range d.EFILoaders {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// kernelArch reads the kernel's header: PE machine of an EFI-stub kernel, the x86 boot
// protocol's "HdrS" (64-bit if xloadflags says so), or the arm64 Image magic.
func kernelArch(fsys fs.FS, p string) Arch {
	f, err := fsys.Open(strings.TrimPrefix(p, "/"))
	if err != nil {
		return ""
	}
	defer f.Close()
	hdr := make([]byte, 4096)
	n, _ := io.ReadFull(f, hdr)
	hdr = hdr[:n]
	if len(hdr) >= 0x240 && string(hdr[0x202:0x206]) == "HdrS" {
		if binary.LittleEndian.Uint16(hdr[0x236:])&1 != 0 {
			return X86_64
		}
		return IA32
	}
	if len(hdr) >= 0x40 && string(hdr[0x38:0x3C]) == "ARM\x64" {
		return ARM64
	}
	if m, err := authenticode.Machine(bytes.NewReader(hdr)); err == nil {
		switch m {
		case pe.IMAGE_FILE_MACHINE_AMD64:
			return X86_64
		case pe.IMAGE_FILE_MACHINE_ARM64:
			return ARM64
		case pe.IMAGE_FILE_MACHINE_I386:
			return IA32
		}
	}
	return ""
}

func (t *tree) isWindows() bool {
	return t.files["/sources/install.wim"] || t.files["/sources/install.esd"] || t.files["/bootmgr"]
}

func (t *tree) topLevel() string {
	var s []string
	seen := map[string]bool{}
	for f := range t.files {
		top := "/" + strings.SplitN(strings.TrimPrefix(f, "/"), "/", 2)[0]
		if !seen[top] {
			seen[top] = true
			s = append(s, top)
		}
	}
	slices.Sort(s)
	if len(s) > 12 {
		s = append(s[:12], "…")
	}
	return strings.Join(s, " ")
}

func (t *tree) kernelList() string {
	var s []string
	for _, k := range t.kernels {
		s = append(s, k.path)
	}
	return strings.Join(s, " ")
}

func (t *tree) loaderList() string {
	var s []string
	for _, l := range t.efiLoaders {
		s = append(s, l)
	}
	if t.efiImage != "" {
		s = append(s, t.efiImage)
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}
