//go:build !linux

package device

import "os"

const supported = false

func devnumOf(string) (string, bool) { return "", false }

func forget(*os.File, int64, int64) {}

func dupFile(*os.File) (*os.File, error) { return nil, ErrUnsupported }
