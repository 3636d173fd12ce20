//go:build !linux

package device

func openTarget(path string, _ DirectMode) (*target, error) { return nil, ErrUnsupported }
func (t *target) rereadPartitions() error                   { return ErrUnsupported }
func (t *target) dropCache() error                          { return ErrUnsupported }
