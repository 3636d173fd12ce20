//go:build unix && !linux

package imagefile

import "errors"

// renameNoReplace is unsupported here: renameAt checks, then renames.
func renameNoReplace(int, string, string) error { return errors.ErrUnsupported }

// lockHolder cannot be asked here.
func lockHolder(fileID) (int, bool) { return 0, false }

func commandOf(int) string { return "" }
