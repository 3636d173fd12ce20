// Command compose builds multi-boot USB sticks from a declarative manifest
// (multiboot.yaml): it fetches and verifies ISOs, lays out a GPT disk with a
// FAT32 ESP, installs GRUB for BIOS and UEFI and writes an image or a device.
//
// This package is a thin shell: flags in, library calls, output out. Every
// verb lives in its own file; output rules are in output.go and the mapping
// from errors to exit codes is in errors.go.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/config/crash"
)

func main() { os.Exit(Main()) }

// Main runs the CLI with the process's arguments and streams and returns the
// exit code. It is separate from main so testscript can run it in-process.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	defer stop()
	// The first Ctrl-C or SIGTERM cancels ctx; a second one ends compose at
	// once, as the signal's default does, whatever is still running.
	go func() {
		<-ctx.Done()
		stop()
	}()
	return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := newApp(stdin, stdout, stderr)
	return a.execute(ctx, newRootCmd(a), args)
}

// execute runs root with args and reports its error the way the output
// rules say. A panic on this goroutine (a bug) is reported as an internal
// error carrying its stack, so that --json output is still an error object.
func (a *app) execute(ctx context.Context, root *cobra.Command, args []string) int {
	err := func() (err error) {
		defer crash.Recover(&err, "running compose")
		root.SetArgs(args)
		return root.ExecuteContext(ctx)
	}()
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errPending) || errors.Is(err, errUpdates) { // plan or update printed it; not an error
		return exitCode(err)
	}
	if ctx.Err() != nil {
		err = interrupted{err}
	}
	if !a.json && wantsJSON(args) {
		a.json = true // a flag error came before pflag reached --json
	}
	a.fail(err)
	return exitCode(err)
}

// wantsJSON reports whether args ask for --json before a "--": a flag
// error stops parsing where it is, so "apply --imag x --json" never set
// it, and its error went to stderr as text with nothing on stdout.
func wantsJSON(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "--json=true", "--json=1":
			return true
		}
	}
	return false
}
