package boottest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestKVMProbeImage: the committed probe image is what its source
// assembles to.
func TestKVMProbeImage(t *testing.T) {
	testenv.Tools(t, "as", "ld")
	dir := t.TempDir()
	obj, img := filepath.Join(dir, "probe.o"), filepath.Join(dir, "probe.img")
	for _, c := range [][]string{
		{"as", "--64", "-o", obj, "kvmprobe/probe.S"},
		{"ld", "-m", "elf_x86_64", "-Ttext=0x7c00", "-e", "start", "--oformat=binary", "-o", img, obj},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, kvmProbeImage) {
		t.Fatalf("kvmprobe/probe.img (%d bytes) is not what kvmprobe/probe.S assembles to (%d bytes): rebuild it as the source says", len(kvmProbeImage), len(b))
	}
}

// TestKVMProbeUnderTCG: the probe guest reaches its marker under TCG, mode
// by mode, in well under the probe's deadline, so a deadline missed under
// KVM is KVM's doing.
func TestKVMProbeUnderTCG(t *testing.T) {
	if testing.Short() {
		t.Skip("QEMU boots: skipped with -short")
	}
	testenv.Tools(t, "qemu-system-x86_64")
	img, err := writeProbeImage()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(img)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	g, err := Start(ctx, VM{Image: img, Firmware: BIOS, Accel: AccelTCG, Memory: 256}, GuestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	out, err := g.Expect(ctx, Expect{Want: []string{"real mode\n", "protected mode\n", "long mode\n", kvmProbeDone}})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// measured: 0.5 s at load 10 on 2 cores, against the probe's 8 s deadline
	t.Logf("the probe passed under tcg in %s (deadline under kvm: %s)", time.Since(start).Round(10*time.Millisecond), probeTimeout["seabios"])
}
