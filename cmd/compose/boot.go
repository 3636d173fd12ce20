package main

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose/boottest"
)

func newBootCmd(a *app) *cobra.Command {
	var (
		fw     string
		serial bool
		memory int
	)
	cmd := &cobra.Command{
		Use:   "boot IMAGE",
		Short: "Try a kit image in QEMU before writing a stick (the image is never modified)",
		Long: `boot starts QEMU with the firmware files for --firmware and the image attached
read-only (snapshot): a window where there is a display, or the guest's serial
console on this terminal with --serial (quit with Ctrl-A X). QEMU and firmware
come from Debian's qemu-system-x86, qemu-system-arm, ovmf, ovmf-ia32 and
qemu-efi-aarch64 packages; a missing one is named.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := boottest.ParseFirmware(fw)
			if err != nil {
				return usageError{err}
			}
			display := boottest.DisplayAuto
			if serial {
				display = boottest.DisplaySerial
			}
			qemu, cleanup, err := boottest.InteractiveCmd(cmd.Context(), boottest.Machine{Image: args[0], Firmware: f, Memory: memory}, display)
			if err != nil {
				return err
			}
			defer cleanup()
			qemu.Stdin, qemu.Stdout, qemu.Stderr = a.stdin, a.stdout, a.stderr
			var exit interface{ ExitCode() int }
			if err := qemu.Run(); err != nil && !(errors.As(err, &exit) && cmd.Context().Err() != nil) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&fw, "firmware", string(boottest.UEFI), "bios, uefi, uefi-sb, uefi-ia32, uefi-arm64 or uefi-arm64-sb")
	cmd.Flags().BoolVar(&serial, "serial", false, "serial console on this terminal instead of a window")
	cmd.Flags().IntVar(&memory, "memory", boottest.DefaultMemory, "guest memory in `MiB`")
	return cmd
}
