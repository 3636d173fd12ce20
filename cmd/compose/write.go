package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/usbkit/compose/compose/device"
)

// errWriteFailed is returned when a device did not end up complete.
var errWriteFailed = errors.New("writing a device failed")

// errNeedYes is returned when a write needs confirmation and cannot ask.
var errNeedYes = errors.New("writing a device destroys its contents: confirm with --yes when there is no terminal to ask on")

type deviceFlags struct {
	paths []string
	yes   bool
	force bool
}

// checkDevices looks every target up and refuses, before anything is built
// or written, any that is unsafe or too small for size bytes.
func checkDevices(df *deviceFlags, size int64) ([]device.Device, error) {
	var devs []device.Device
	var errs []error
	for _, p := range df.paths {
		d, err := device.Lookup(device.HostRoot(), p)
		if err == nil {
			err = device.Check(d, size, device.CheckOptions{Force: df.force})
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		devs = append(devs, d)
	}
	return devs, errors.Join(errs...)
}

// confirm shows what will be lost and asks on the terminal; without one,
// --yes is the only way on. Nothing else in compose prompts.
func (a *app) confirm(devs []device.Device, df *deviceFlags) error {
	if df.yes {
		return nil
	}
	if !isTerminal(a.stdin) || !isTerminal(a.stderr) {
		return usageError{errNeedYes}
	}
	fmt.Fprintln(escaper{a.stderr}, "compose will ERASE everything on:")
	for _, d := range devs {
		fmt.Fprintf(escaper{a.stderr}, "  %s  %s  %s  %s\n", d.Path, humanSize(d.Size), d.Bus, strings.TrimSpace(d.Vendor+" "+d.Model))
		for _, p := range d.Partitions {
			fmt.Fprintf(escaper{a.stderr}, "      %s  %s  %s %s\n", p.Path, humanSize(p.Size), p.FSType, p.Label)
		}
	}
	fmt.Fprint(escaper{a.stderr}, "Type yes to write: ")
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("not confirmed: nothing was written")
	}
	return nil
}

type deviceResult struct {
	Device   string   `json:"device"`
	Complete bool     `json:"complete"`
	Written  int64    `json:"written"`
	Verified bool     `json:"verified"`
	SHA256   string   `json:"sha256,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// writeDevices writes img to every device at once and reports each.
func (a *app) writeDevices(ctx context.Context, img string, devs []device.Device, df *deviceFlags, noVerify bool) error {
	paths := make([]string, len(devs))
	for i, d := range devs {
		paths[i] = d.Path
	}
	disp := a.display("write")
	res := device.Write(ctx, img, paths, device.WriteOptions{Check: device.CheckOptions{Force: df.force}, NoVerify: noVerify}, disp.deviceEvent)
	disp.close()
	out := make([]deviceResult, len(res))
	failed := false
	for i, r := range res {
		out[i] = deviceResult{Device: r.Device, Complete: r.Complete, Written: r.Written, Verified: r.Verified, SHA256: r.SHA256, Warnings: r.Warnings}
		if r.Err != nil || !r.Complete {
			failed = true
			out[i].Error = fmt.Sprint(r.Err)
		}
	}
	if err := a.result(out, func(w io.Writer) error { return printDeviceResults(w, out) }); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("stopped: the sticks are incomplete and must not be used: %w", ctx.Err())
	}
	if failed {
		return errWriteFailed
	}
	return nil
}

func printDeviceResults(w io.Writer, out []deviceResult) error {
	for _, r := range out {
		switch {
		case r.Complete && r.Verified:
			fmt.Fprintf(w, "%s: written and verified (%s)\n", r.Device, humanSize(r.Written))
		case r.Complete:
			fmt.Fprintf(w, "%s: written, not verified (%s)\n", r.Device, humanSize(r.Written))
		default:
			fmt.Fprintf(w, "%s: FAILED, the stick is incomplete: %s\n", r.Device, r.Error)
		}
		for _, warn := range r.Warnings {
			fmt.Fprintf(w, "%s: warning: %s\n", r.Device, warn)
		}
	}
	return nil
}

// scratchImage is where a kit for devices is built when no --image is
// given: a temporary file, removed afterwards.
func scratchImage() (string, func(), error) {
	dir, err := os.MkdirTemp(filepath.Clean(os.TempDir()), "compose-apply-")
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(dir, "kit.img"), func() { os.RemoveAll(dir) }, nil
}
