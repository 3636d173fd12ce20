package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/compose/converge"
)

func newVerifyCmd(a *app) *cobra.Command {
	var (
		img  string
		devs []string
	)
	cmd := &cobra.Command{
		Use:   "verify (--image FILE | --device DEV...)",
		Short: "Read every byte of a kit and compare each file with the kit's record",
		Long: `verify reads every file of the kit on an image file or USB stick whole — every
ISO on the ESP and on the ext4 data partition, every boot file and the menu —
and compares each with the kit's own record (/compose/state.json on its ESP):
ISOs with their whole pinned digest, the other files with their SHA-256. It
reads with O_DIRECT, bypassing the page cache, where the target allows it,
and writes nothing. Each file is ok, changed, missing or unreadable; files the
record does not name are listed as leftover (under /isos on the data
partition, from an interrupted apply) or added.

plan and apply check an existing kit by the sizes of its ISOs and a sample of
their first and last 64 KiB; verify is the check that reads everything. When
the manifest is there (-f, or ./multiboot.yaml), the recorded digests are
also compared with its lock, as notes: a stick that holds another version of
an ISO is not damaged. Exit code 4 when any file is changed, missing or
unreadable, 5 when a target holds no compose kit.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (img == "") == (len(devs) == 0) {
				return usageError{errors.New("verify needs --image FILE or --device DEV, not both")}
			}
			if len(devs) > 0 {
				if err := linuxOnly("verify --device"); err != nil {
					return err
				}
			}
			opts := compose.VerifyOptions{Targets: devs}
			if img != "" {
				opts.Targets = []string{img}
			}
			if _, err := os.Stat(a.file); cmd.Flags().Changed("file") || err == nil {
				opts.Manifest = a.file
			}
			disp := a.display("verify")
			defer disp.close()
			opts.Progress = disp.event
			res, err := compose.Verify(cmd.Context(), opts)
			disp.close()
			for _, v := range res {
				for _, w := range v.Warnings {
					a.warn("%s: %s", v.Target, w)
				}
			}
			var perr error
			switch {
			case img != "" && len(res) == 1:
				perr = a.result(res[0], func(w io.Writer) error { return printVerification(w, res[0]) })
			case len(devs) > 0 && len(res) > 0:
				perr = a.result(res, func(w io.Writer) error { return printVerifications(w, res) })
			}
			return errors.Join(err, perr)
		},
	}
	onceVar(cmd.Flags(), &img, "image", "", "", "verify the kit in this image `file`")
	cmd.Flags().StringArrayVar(&devs, "device", nil, "verify the kit on this block `device` (repeatable)")
	return cmd
}

func printVerifications(w io.Writer, vs []*converge.Verification) error {
	for i, v := range vs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := printVerification(w, v); err != nil {
			return err
		}
	}
	return nil
}

// printVerification prints one line per file, then the verdict.
func printVerification(w io.Writer, v *converge.Verification) error {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	printf(tw, "status\tpart\tkind\tfile\tsize\t\n")
	for _, f := range v.Files {
		name := f.Path
		if f.Name != "" {
			name += " (" + f.Name + ")"
		}
		printf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", f.Status, f.Partition, f.Kind, name, humanSize(max(f.Size, f.ActualSize)), fileDetail(f))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(line, " ")) // the empty last column pads
	}
	for _, n := range v.Notes {
		printf(w, "note: %s\n", n)
	}
	how := "bypassing the page cache"
	if !v.Direct {
		how = "through the page cache"
	}
	var err error
	if v.OK {
		all := "all "
		if recordedFiles(v) == 1 {
			all = ""
		}
		_, err = printf(w, "%s: %s%s ok: %s read, %s\n", v.Target, all, count(recordedFiles(v), "recorded file"), humanSize(v.BytesRead), how)
	} else {
		_, err = printf(w, "%s: %d of %s damaged: %s read, %s\n", v.Target, v.Damaged, count(recordedFiles(v), "recorded file"), humanSize(v.BytesRead), how)
	}
	return err
}

// recordedFiles counts the files the record names (extras aside).
func recordedFiles(v *converge.Verification) int {
	n := 0
	for _, f := range v.Files {
		if f.Kind != "extra" {
			n++
		}
	}
	return n
}

// fileDetail says what differs, for anything but an ok file.
func fileDetail(f converge.VerifiedFile) string {
	switch f.Status {
	case converge.StatusChanged:
		if f.Actual == "" {
			return fmt.Sprintf("%s, recorded %d", count(int(f.ActualSize), "byte"), f.Size)
		}
		return fmt.Sprintf("read %s %s, recorded %s", f.Algorithm, f.Actual, f.Expected)
	case converge.StatusMissing, converge.StatusUnreadable:
		return f.Error
	case converge.StatusLeftover:
		return "not recorded: left by an interrupted apply, which apply removes"
	case converge.StatusAdded:
		return "not recorded: added outside compose"
	}
	return ""
}
