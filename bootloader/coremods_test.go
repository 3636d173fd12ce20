package bootloader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ulikunitz/xz/lzma"
	"github.com/usbkit/compose/bootloader/assets"
)

// coreModules lists the modules inside an i386-pc core.img: diskboot.img (512 bytes), then
// lzma_decompress.img whose header holds the compressed (+0x08) and uncompressed (+0x0C)
// sizes, then a raw LZMA stream (lc=3 lp=0 pb=2) of kernel.img + grub_module_info32
// {magic "mimg", offset, size} + modules (ELF32, named by .modname).
func coreModules(core []byte) ([]string, error) {
	if len(core) < 1024 {
		return nil, fmt.Errorf("core.img too short")
	}
	comp := binary.LittleEndian.Uint32(core[512+0x08:])
	uncomp := binary.LittleEndian.Uint32(core[512+0x0C:])
	if int(comp) > len(core)-1024 {
		return nil, fmt.Errorf("compressed size %d out of range", comp)
	}
	hdr := make([]byte, 13)
	hdr[0] = (2*5+0)*9 + 3
	binary.LittleEndian.PutUint32(hdr[1:], 1<<20)
	binary.LittleEndian.PutUint64(hdr[5:], uint64(uncomp))
	r, err := lzma.NewReader(io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(core[len(core)-int(comp):])))
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("lzma: %w", err)
	}
	for i := 0; i+12 <= len(plain); i++ {
		if string(plain[i:i+4]) != "mimg" {
			continue
		}
		if mods, err := modulesAt(plain[i:]); err == nil && len(mods) > 0 {
			return mods, nil
		}
	}
	return nil, fmt.Errorf("no module info in %d decompressed bytes", len(plain))
}

func modulesAt(m []byte) ([]string, error) {
	off, size := binary.LittleEndian.Uint32(m[4:]), binary.LittleEndian.Uint32(m[8:])
	if size > uint32(len(m)) || off > size {
		return nil, fmt.Errorf("bad module info")
	}
	var mods []string
	for p := off; p+8 <= size; {
		typ, sz := binary.LittleEndian.Uint32(m[p:]), binary.LittleEndian.Uint32(m[p+4:])
		if sz < 8 || p+sz > size {
			return nil, fmt.Errorf("bad object")
		}
		if typ == 0 {
			e, err := elf.NewFile(bytes.NewReader(m[p+8 : p+sz]))
			if err != nil {
				return nil, err
			}
			if s := e.Section(".modname"); s != nil {
				n, _ := s.Data()
				mods = append(mods, string(bytes.TrimRight(n, "\x00")))
			}
		}
		p += sz
	}
	slices.Sort(mods)
	return mods, nil
}

// core.modules (what the renderer check uses for BIOS) must be exactly what core.img holds,
// give or take the dependencies grub-mkimage pulls in.
func TestCoreImgHoldsTheListedModules(t *testing.T) {
	core, _ := assets.Read(assets.CoreImg)
	got, err := coreModules(core)
	if err != nil {
		t.Fatal(err)
	}
	listed, _ := assets.Read(assets.CoreMods)
	for _, m := range strings.Fields(string(listed)) {
		if !slices.Contains(got, m) {
			t.Errorf("core.modules lists %s, core.img lacks it", m)
		}
	}
	if !slices.Contains(got, "probe") || !slices.Contains(got, "biosdisk") {
		t.Errorf("core.img modules: %v", got)
	}
	t.Logf("core.img: %d modules", len(got))
}
