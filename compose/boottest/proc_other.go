//go:build !linux

package boottest

import "os/exec"

// ownChild: only Linux has Pdeathsig; elsewhere QEMU is killed on cancel.
func ownChild(cmd *exec.Cmd, interactive bool) {}
