package wim

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// makeTree writes a directory tree of files of several sizes, some random
// (incompressible), some repetitive, some shared between files (so blobs
// are deduplicated), seeded so that runs repeat.
func makeTree(t testing.TB, dir string, seed uint64, files int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	shared := randBytes(rng, 70_000)
	for i := range files {
		sub := filepath.Join(dir, fmt.Sprintf("d%d", i%4), fmt.Sprintf("e%d", i%3))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		var data []byte
		switch i % 4 {
		case 0:
			data = randBytes(rng, 1+rng.IntN(400_000))
		case 1:
			data = []byte(strings.Repeat(fmt.Sprintf("line %d of a text file\n", i), 1+rng.IntN(5000)))
		case 2:
			data = shared
		default:
			data = randBytes(rng, rng.IntN(64))
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d.bin", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// capture builds a WIM at path with one image per tree, named "img1", …,
// compressed as compress says, with extra wimcapture/wimappend arguments.
func capture(t testing.TB, path, compress string, trees []string, extra ...string) {
	t.Helper()
	testenv.Tools(t, "wimcapture", "wimappend")
	for i, tree := range trees {
		name := fmt.Sprintf("img%d", i+1)
		if i == 0 {
			args := append([]string{tree, path, name, "--compress=" + compress}, extra...)
			testenv.Run(t, "wimcapture", args...)
			continue
		}
		args := append([]string{tree, path, name}, extra...)
		testenv.Run(t, "wimappend", args...)
	}
}

// openInfo runs ReadInfo on the file at path.
func openInfo(t testing.TB, path string) *Info {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	info, err := ReadInfo(f, st.Size())
	if err != nil {
		t.Fatalf("ReadInfo(%s): %v", path, err)
	}
	return info
}

// wiminfoField returns the value of "Key:  value" in wiminfo's output.
func wiminfoField(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
