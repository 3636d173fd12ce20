package udf

import (
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkReadFile reads a 48 MiB file through the reader and the same
// bytes straight from the image file (where the file's extents say they
// are), in the same run, and reports the reader's speed as a ratio of the
// plain read's: what splitting an install.wim read from the UDF side
// costs over reading the image.
func BenchmarkReadFile(b *testing.B) {
	src := b.TempDir()
	data := make([]byte, 48<<20)
	if _, err := rand.Read(data); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "install.wim"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	img := mkudffs(b, src, "2.01", 64<<20)
	u := openImage(b, img)
	raw, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	f, err := u.Open("install.wim")
	if err != nil {
		b.Fatal(err)
	}
	runs := f.(*File).n.e.ext.runs
	buf := make([]byte, 1<<20)
	var viaUDF, plain time.Duration
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	readUDF := func() {
		if _, err := f.(io.Seeker).Seek(0, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf); err != nil {
			b.Fatal(err)
		}
	}
	readPlain := func() {
		for _, r := range runs {
			if _, err := io.CopyBuffer(io.Discard, io.NewSectionReader(raw, r.off, r.n), buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	timed := func(fn func(), total *time.Duration) {
		start := time.Now()
		fn()
		*total += time.Since(start)
	}
	for i := range b.N {
		if i%2 == 0 { // alternate, so that neither always reads second
			timed(readUDF, &viaUDF)
			timed(readPlain, &plain)
		} else {
			timed(readPlain, &plain)
			timed(readUDF, &viaUDF)
		}
	}
	b.ReportMetric(plain.Seconds()/viaUDF.Seconds(), "speed-vs-plain")
}
