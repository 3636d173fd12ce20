//go:build unix && !linux

package compose

import "errors"

// renameNoReplace is unsupported here: renameAt checks, then renames.
func renameNoReplace(int, string, string) error { return errors.ErrUnsupported }

// lockHolder cannot be asked here.
func lockHolder(fileID) int { return 0 }

func commandOf(int) string { return "" }
