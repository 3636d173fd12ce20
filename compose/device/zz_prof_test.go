package device

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestZZProf(t *testing.T) {
	img, dev := os.Getenv("PROF_IMG"), os.Getenv("PROF_DEV")
	if img == "" {
		t.Skip()
	}
	start := time.Now()
	var last Phase
	opts := WriteOptions{Check: CheckOptions{Force: true}, NoVerify: true}
	if v := os.Getenv("PROF_CHUNK"); v != "" {
		n, _ := strconv.Atoi(v)
		opts.ChunkSize = n << 20
	}
	r := Write(context.Background(), img, []string{dev}, opts, func(e Event) {
		if e.Phase != last {
			t.Logf("%v %s %d/%d", time.Since(start), e.Phase, e.Done, e.Total)
			last = e.Phase
		}
	})
	t.Logf("%v end %+v", time.Since(start), r[0])
}
