//go:build !linux

package device

import "os"

type target struct {
	f          *os.File
	path       string
	direct     bool
	size       int64
	sectorSize int
	devnum     string
}

func openTarget(path string, _ DirectMode) (*target, error) { return nil, ErrUnsupported }
func (t *target) rereadPartitions() error                   { return ErrUnsupported }
func (t *target) dropCache() error                          { return ErrUnsupported }
func (t *target) sync() error                               { return t.f.Sync() }
