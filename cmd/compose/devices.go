package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose/device"
)

func newDevicesCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "devices",
		Short: "List the disks a kit could be written to, and why compose would refuse any of them",
		Long: `devices lists every whole disk with its size, bus, model, whether it is
removable and what is mounted from it, and whether 'compose apply --device'
would refuse it and why (mounted, the running system, swap, LVM/RAID member,
not removable, larger than 1 TiB…). It reads sysfs, /proc and udev's database.`,
		RunE: func(*cobra.Command, []string) error {
			if err := linuxOnly("compose devices"); err != nil {
				return err
			}
			devs, err := device.List(device.HostRoot())
			if err != nil {
				return err
			}
			return a.result(devs, func(w io.Writer) error { return printDevices(w, devs) })
		},
	}
}

func printDevices(w io.Writer, devs []device.Device) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSIZE\tBUS\tMODEL\tREMOVABLE\tMOUNTED\tCOMPOSE")
	for _, d := range devs {
		removable := "no"
		if d.Removable {
			removable = "yes"
		}
		printf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Path, humanSize(d.Size), d.Bus,
			strings.TrimSpace(d.Vendor+" "+d.Model), removable, strings.Join(mounts(d), ","), verdict(d))
	}
	return tw.Flush()
}

func mounts(d device.Device) []string {
	out := append([]string{}, d.Mountpoints...)
	for _, p := range d.Partitions {
		out = append(out, p.Mountpoints...)
	}
	if len(out) == 0 {
		return []string{"-"}
	}
	return out
}

func verdict(d device.Device) string {
	if len(d.Refusals) == 0 {
		return "ok"
	}
	var why []string
	lift := true
	for _, r := range d.Refusals {
		why = append(why, r.Text)
		lift = lift && r.Overridable
	}
	// --force is offered only when it would be enough: after "mounted"
	// or "the running system" it promised what it cannot do.
	if lift {
		return "refuses: " + strings.Join(why, "; ") + " (--force writes it anyway)"
	}
	return "refuses: " + strings.Join(why, "; ")
}
