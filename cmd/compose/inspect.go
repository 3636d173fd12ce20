package main

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose/isoimage"
)

func newInspectCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE.iso",
		Short: "Explain how compose would boot an ISO: family, label, kernel, initrd, arguments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := isoimage.Inspect(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			for _, w := range r.Warnings {
				a.warn("%s", w)
			}
			return a.result(r, func(w io.Writer) error {
				printf(w, "%s\n", args[0])
				for _, line := range r.Boot.Lines() {
					printf(w, "  %s\n", line)
				}
				if sb := r.SecureBoot; sb != nil {
					printf(w, "  secure boot: %s\n", secureBootLine(sb.Boots, sb.Signer, sb.Remedy))
				}
				return nil
			})
		},
	}
}

func secureBootLine(boots bool, signer, remedy string) string {
	if signer == "" {
		signer = "unsigned"
	} else {
		signer = "signed by " + signer
	}
	if boots {
		return signer + ", boots with Debian's shim"
	}
	return signer + ", will not boot with Secure Boot on: " + remedy
}
