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
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(Main()) }

// Main runs the CLI with the process's arguments and streams and returns the
// exit code. It is separate from main so testscript can run it in-process.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := newApp(stdin, stdout, stderr)
	root := newRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil {
		err = interrupted{err}
	}
	a.fail(err)
	return exitCode(err)
}
