package boottest

import (
	"os/exec"
	"syscall"
)

// ownChild makes QEMU die with compose: the kernel sends it SIGKILL when
// compose ends however it ends (Pdeathsig), and a headless QEMU gets a
// process group of its own, killed whole on cancel. An interactive QEMU
// stays in compose's group: it reads the terminal, which only the
// foreground group may.
func ownChild(cmd *exec.Cmd, interactive bool) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: !interactive}
	if interactive {
		// SIGTERM lets QEMU restore the terminal it put in raw mode.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		return
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
