//go:build !linux

package device

import "os"

func openTarget(path string, _ DirectMode) (*target, error) { return nil, ErrUnsupported }
func (t *target) rereadPartitions() error                   { return ErrUnsupported }
func (t *target) dropCache() error                          { return ErrUnsupported }

// Open is not implemented here.
func Open(Device) (*os.File, error) { return nil, ErrUnsupported }
