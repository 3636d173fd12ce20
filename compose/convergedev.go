package compose

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/usbkit/compose/compose/device"
)

// readKits reads every device; it reports whether all of them hold a
// compose kit, which Kit.Apply then converges in place. A device that
// cannot be read or holds no kit sends all to the full write, which erases
// them after confirmation.
func readKits(paths []string) bool {
	for _, p := range paths {
		if !isKit(p) {
			return false
		}
	}
	return true
}

// convergeDevices changes the kit on every device in place: each is checked
// by the same rules as a full write (size aside: the kit is already
// there), confirmed, planned against what it holds (its own stick ID and
// state) and converged; one failing does not stop the others.
func (k *Kit) convergeDevices(ctx context.Context, opts ApplyOptions) (*Applied, error) {
	if err := k.pin(ctx, opts.Locked); err != nil {
		return nil, err
	}
	if _, err := k.Fetch(ctx); err != nil {
		return nil, err
	}
	devs, err := checkDevices(opts.Devices, 0, opts.Force)
	if err == nil && opts.Confirm != nil {
		err = opts.Confirm(sticks(devs))
	}
	if err != nil {
		return nil, err
	}
	out := &Applied{}
	var failed []error
	for _, d := range devs {
		r, err := k.convergeDevice(ctx, d, opts, out)
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", d.Path, err))
		}
		out.Devices = append(out.Devices, r)
	}
	if len(failed) > 0 {
		return out, errors.Join(failed...)
	}
	return out, nil
}

// convergeDevice opens d exclusively, makes sure it is the device checked
// and confirmed, and plans and converges it through that one open file.
func (k *Kit) convergeDevice(ctx context.Context, d device.Device, opts ApplyOptions, out *Applied) (DeviceResult, error) {
	r := DeviceResult{Device: d.Path, Incremental: true}
	f, err := device.Open(d)
	if err != nil {
		r.Error, r.err = resultText(err), err
		return r, err
	}
	defer f.Close()
	p, err := k.Plan(ctx, d.Path, PlanOptions{device: f})
	if err == nil && out.Plan == nil {
		out.Plan = p
		if opts.Planned != nil {
			opts.Planned(p)
		}
	}
	var res *Result
	if err == nil {
		res, err = Build(ctx, p, BuildOptions{NoVerify: opts.NoVerify, Progress: opts.Progress, Verify: opts.Verify, device: f})
	}
	if res != nil {
		r.Written, r.Changes, r.Steps, r.Touched = res.BytesWritten, res.Changes, res.Steps, res.BytesWritten > 0
		r.Warnings = append(r.Warnings, res.Warnings...)
		r.ISOCheck, r.Verification = res.ISOCheck, res.Verification
	}
	if err == nil && len(opts.ResetPersistence) > 0 {
		if err = p.reset(ctx, f, opts.ResetPersistence); err == nil {
			out.Reset = opts.ResetPersistence
		}
	}
	if err != nil {
		r.Error, r.err = resultText(err), err
		return r, err
	}
	r.Complete, r.Verified = true, !opts.NoVerify
	return r, nil
}

// isKit reads the state record of the target at path and says whether
// it holds a kit.
func isKit(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	t, err := readRecord(f)
	return err == nil && t.Kit
}
