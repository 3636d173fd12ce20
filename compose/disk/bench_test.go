package disk

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// The benchmark is opt-in: it writes several GiB.
//
//	COMPOSE_IMAGE_BENCH=1 go test -run TestBench -v -timeout 30m ./compose/disk/
//
// COMPOSE_IMAGE_BENCH_DIR picks the disk (default: the system temp dir).
// It places 2 GiB of random-content ISOs with Build, both hashing them
// while copying and with their digests declared (kernel copy), and writes the same
// bytes with `cat ISOs | dd bs=8M iflag=fullblock conv=fsync` into one file in the
// same directory, printing the
// ratio (dd time / Build time; the target is >= 0.9) and Build's peak RSS,
// then builds a kit with one 3 GiB ISO and checks peak RSS < 256 MiB.
// Build runs in a child process so that its RSS is its own.

func benchDir(t *testing.T) string {
	if os.Getenv("COMPOSE_IMAGE_BENCH") == "" {
		t.Skip("set COMPOSE_IMAGE_BENCH=1 to run the placement benchmark")
	}
	testenv.Tools(t, "dd")
	base := os.Getenv("COMPOSE_IMAGE_BENCH_DIR")
	d, err := os.MkdirTemp(base, "compose-image-bench-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func randomFile(t *testing.T, path string, size int64, seed uint64) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	buf := make([]byte, 8<<20)
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		r.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
}

type childResult struct {
	Seconds float64
	MaxRSS  int64 // bytes
	CPU     float64
}

// buildInChild runs Build on spec in a fresh process and returns its
// wall time (inside the child) and peak RSS.
func buildInChild(t *testing.T, spec Spec, out string) childResult {
	js, _ := json.Marshal(spec)
	specFile := out + ".spec.json"
	if err := os.WriteFile(specFile, js, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchChild$", "-test.v")
	cmd.Env = append(os.Environ(), "COMPOSE_IMAGE_BENCH_CHILD="+specFile, "COMPOSE_IMAGE_BENCH_OUT="+out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child build: %v\n%s", err, b)
	}
	var r childResult
	for _, l := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "SECONDS "); ok {
			r.Seconds, _ = strconv.ParseFloat(s, 64)
		}
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.MaxRSS = ru.Maxrss * 1024
	r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	os.Remove(specFile)
	return r
}

func TestBenchChild(t *testing.T) {
	specFile := os.Getenv("COMPOSE_IMAGE_BENCH_CHILD")
	if specFile == "" {
		t.Skip("helper for TestBench*")
	}
	var spec Spec
	b, _ := os.ReadFile(specFile)
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := Build(context.Background(), os.Getenv("COMPOSE_IMAGE_BENCH_OUT"), spec, nil); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SECONDS %f\n", time.Since(start).Seconds())
}

// ddAll writes the ISOs' bytes as one stream into one file, one fsync at
// the end, like Build.
func ddAll(t *testing.T, dir string, isos []File) float64 {
	out := filepath.Join(dir, "dd.out")
	args := []string{"-c", `cat "$@" | dd of="` + out + `" bs=8M iflag=fullblock conv=fsync status=none`, "sh"}
	for _, f := range isos {
		args = append(args, f.Source)
	}
	start := time.Now()
	testenv.Run(t, "sh", args...)
	d := time.Since(start).Seconds()
	os.Remove(out)
	return d
}

func TestBenchPlace2GiB(t *testing.T) {
	dir := benchDir(t)
	var isos []File
	for i := range 4 {
		p := filepath.Join(dir, fmt.Sprintf("iso%d.iso", i))
		randomFile(t, p, 512<<20, uint64(i+1))
		isos = append(isos, File{Path: fmt.Sprintf("/isos/iso%d.iso", i), Source: p, Size: 512 << 20})
	}
	hashing := Spec{Seed: []byte("bench"), ESP: ESP{Label: "BENCH"}, ISOs: isos}
	declared := hashing
	declared.ISOs = nil
	for _, f := range isos {
		f.SHA256 = fileDigest(t, f.Source) // as the fetch step provides
		declared.ISOs = append(declared.ISOs, f)
	}
	// each round runs dd and both Build modes, rotating the order so no
	// one always meets the busiest moment of a shared disk
	ratios := map[string][]float64{}
	for round := 0; round < 5; round++ {
		times := map[string]childResult{}
		steps := []string{"dd", "hash", "declared"}
		for i := range steps {
			step := steps[(i+round)%3]
			switch step {
			case "dd":
				times[step] = childResult{Seconds: ddAll(t, dir, isos)}
			case "hash":
				times[step] = buildOnce(t, dir, hashing)
			case "declared":
				times[step] = buildOnce(t, dir, declared)
			}
		}
		dd := times["dd"].Seconds
		for _, m := range []string{"hash", "declared"} {
			r := times[m]
			ratios[m] = append(ratios[m], dd/r.Seconds)
			fmt.Printf("round %d: dd %.2fs (%.0f MiB/s) | Build[%s] %.2fs (%.0f MiB/s) ratio %.2f, peak RSS %.1f MiB, CPU %.1fs\n",
				round+1, dd, 2048/dd, m, r.Seconds, 2048/r.Seconds, dd/r.Seconds, float64(r.MaxRSS)/float64(mib), r.CPU)
		}
	}
	for _, m := range []string{"hash", "declared"} {
		sort.Float64s(ratios[m])
		fmt.Printf("median ratio dd/Build[%s] over %d rounds: %.2f (target >= 0.9)\n", m, len(ratios[m]), ratios[m][len(ratios[m])/2])
	}
}

func buildOnce(t *testing.T, dir string, spec Spec) childResult {
	out := filepath.Join(dir, "kit.img")
	r := buildInChild(t, spec, out)
	os.Remove(out)
	return r
}

func TestBenchMemory3GiB(t *testing.T) {
	dir := benchDir(t)
	p := filepath.Join(dir, "big.iso")
	randomFile(t, p, 3<<30, 42)
	iso := File{Path: "/isos/big.iso", Source: p, Size: 3 << 30}
	spec := Spec{Seed: []byte("bench"), ESP: ESP{Label: "BENCH"}, ISOs: []File{iso}, Verify: true}
	declared := spec
	iso.SHA256 = fileDigest(t, p)
	declared.ISOs = []File{iso}
	for _, c := range []struct {
		mode string
		spec Spec
	}{{"hash", spec}, {"declared", declared}} {
		r := buildOnce(t, dir, c.spec)
		fmt.Printf("3 GiB ISO, Build[%s]+Verify %.2fs, peak RSS %.1f MiB\n", c.mode, r.Seconds, float64(r.MaxRSS)/float64(mib))
		if r.MaxRSS >= 256*mib {
			t.Fatalf("peak RSS %d bytes, want < 256 MiB", r.MaxRSS)
		}
	}
}
