//go:build !unix

package stale

// alive cannot be asked here: every owner counts as alive, so nothing is
// collected.
func alive(int) bool { return true }
