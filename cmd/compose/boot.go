package main

import (
	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose/boottest"
)

func newBootCmd(a *app) *cobra.Command {
	var (
		fw     string
		serial bool
		memory int
		accel  string
		sb     bool
	)
	cmd := &cobra.Command{
		Use:   "boot IMAGE",
		Short: "Try a kit image in QEMU before writing a stick (the image is never modified)",
		Long: `boot starts QEMU with the firmware files for --firmware and the image attached
read-only (snapshot): a window where there is a display, or the guest's serial
console on this terminal with --serial (quit with Ctrl-A X). QEMU and firmware
come from Debian's qemu-system-x86, qemu-system-arm, ovmf, ovmf-ia32 and
qemu-efi-aarch64 packages; a missing one is named. Firmware names are the
manifest's (bios, uefi-x64, uefi-ia32, uefi-arm64); "-sb" or --secure-boot
enforces Secure Boot. QEMU ends with compose, however compose ends.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := linuxOnly("compose boot"); err != nil {
				return err
			}
			f, err := boottest.ParseVariant(fw)
			if err == nil && sb {
				f, err = f.WithSecureBoot()
			}
			if err != nil {
				return usageError{err}
			}
			ac, err := boottest.ParseAccel(accel)
			if err != nil {
				return usageError{err}
			}
			display := boottest.DisplayAuto
			if serial {
				display = boottest.DisplaySerial
			}
			m := boottest.VM{Image: args[0], Firmware: f, Memory: memory, Accel: ac}
			stdio := boottest.Stdio{In: a.stdin, Out: a.stdout, Err: a.stderr}
			_, err = boottest.RunInteractive(cmd.Context(), m, display, stdio, func(msg string) {
				a.warn("KVM is not used (%s): the machine runs under TCG", msg)
			})
			return err
		},
	}
	cmd.Flags().StringVar(&fw, "firmware", string(boottest.UEFI), "bios, uefi-x64, uefi-ia32 or uefi-arm64, with -sb for Secure Boot")
	cmd.Flags().BoolVar(&sb, "secure-boot", false, "enforce Secure Boot (uefi-x64 and uefi-arm64)")
	cmd.Flags().StringVar(&accel, "accel", string(boottest.AccelAuto), "QEMU accelerator: auto (KVM where it passes its probe, else TCG), kvm or tcg")
	cmd.Flags().BoolVar(&serial, "serial", false, "serial console on this terminal instead of a window")
	cmd.Flags().IntVar(&memory, "memory", boottest.DefaultMemory, "guest memory in `MiB`")
	return cmd
}
