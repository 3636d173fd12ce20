package main

import (
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/compose/boottest"
)

// errBootFailed is returned when a boot test did not pass.
var errBootFailed = errors.New("boot test failed")

type testFlags struct {
	ff       fetchFlags
	firmware []string
	entries  []string
	logs     string
	timeout  time.Duration
	memory   int
	accel    string
	sb       bool
}

func newTestCmd(a *app) *cobra.Command {
	var tf testFlags
	cmd := &cobra.Command{
		Use:   "test [IMAGE]",
		Short: "Boot every menu entry headless in QEMU on every firmware target and report a table",
		Long: `test boots each entry of the kit, one at a time, on each firmware target the
manifest names (UEFI ones also with Secure Boot enforced when secure_boot is
on), selecting the entry over the serial console without modifying the image,
and reports entry × firmware → pass/fail, the milestone reached and the time.
An ISO's 'expect:' regexp is the proof of success; without one, the
payload's own: a started kernel, memtest86+'s screen, iPXE's banner, or the
first output of another EFI or BIOS payload (the PROOF column), on the serial
console or, under SeaBIOS, the VGA text screen. Entries Debian's shim will refuse under Secure Boot are
expected to fail that way when booted as they are; when the stick carries the
key that makes one boot, test then enrols the kit's keys with MokManager over
the serial console (once per firmware, into that run's variable store) and
boots the entry again, which must then pass (the MOK column, JSON "enrolment"). Without IMAGE, the kit is built first (as apply).
The manifest's menu must use console: serial or both. Firmware names are the
manifest's (bios, uefi-x64, uefi-ia32, uefi-arm64); "-sb" or --secure-boot
enforces Secure Boot. --accel auto runs KVM for a kind of firmware only once a
probe guest reached its marker under KVM within seconds, else TCG (the ACCEL
column, one warning); a case that KVM fails or stalls runs again under TCG.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := linuxOnly("compose test"); err != nil {
				return err
			}
			return a.bootTest(cmd, args, &tf)
		},
	}
	tf.ff.register(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&tf.firmware, "firmware", nil, "firmware to test on: bios, uefi-x64, uefi-ia32, uefi-arm64, with -sb for Secure Boot (repeatable; default: the manifest's targets)")
	f.BoolVar(&tf.sb, "secure-boot", false, "test only with Secure Boot enforced (uefi-x64 and uefi-arm64)")
	f.StringVar(&tf.accel, "accel", string(boottest.AccelAuto), "QEMU accelerator: auto (KVM where it passes its probe, else TCG), kvm or tcg")
	f.StringSliceVar(&tf.entries, "entry", nil, "entry names to test (repeatable; default: all)")
	f.StringVar(&tf.logs, "logs", "", "keep each boot's serial log (and under SeaBIOS the screens it showed) in this `dir` (default: a temporary dir)")
	f.DurationVar(&tf.timeout, "timeout", boottest.DefaultTimeout, "give up on one boot after this long")
	f.IntVar(&tf.memory, "memory", boottest.DefaultMemory, "guest memory in `MiB`")
	return cmd
}

func (a *app) bootTest(cmd *cobra.Command, args []string, tf *testFlags) error {
	ctx := cmd.Context()
	machines, err := testMachines(tf.firmware, tf.sb)
	if err != nil {
		return err
	}
	accel, err := boottest.ParseAccel(tf.accel)
	if err != nil {
		return usageError{err}
	}
	disp := a.display("fetch")
	defer disp.close()
	k, err := a.loadKit(&tf.ff, disp)
	if err != nil {
		return err
	}
	opts := compose.TestOptions{Machines: machines, Entries: tf.entries, Planned: a.planned, Progress: disp.event}
	if len(args) == 1 {
		opts.Image = args[0]
	}
	run, err := k.BootTest(ctx, opts)
	disp.close()
	if err != nil {
		return err
	}
	defer run.Close()
	cases, err := bootCases(run.Cases, tf.timeout, tf.sb)
	if err != nil {
		return err
	}
	logs := tf.logs
	if logs == "" {
		if logs, err = os.MkdirTemp("", "compose-test-"); err != nil {
			return err
		}
	}
	r := &boottest.Runner{Image: run.Image, LogDir: logs, Memory: tf.memory, Accel: accel, Volume: run.Volume, OnEvent: a.testEvent}
	results, err := r.RunAll(ctx, cases)
	if err != nil {
		if tf.logs == "" && ctx.Err() != nil {
			os.RemoveAll(logs) // interrupted: nothing half-written is left, and nothing named it
		}
		return err
	}
	if err := a.result(results, func(w io.Writer) error { return boottest.WriteTable(w, results) }); err != nil {
		return err
	}
	if msg := r.KVMBroken(); msg != "" {
		a.warn("KVM is not used for these firmware kinds, their cases ran under TCG: %s", msg)
	}
	a.info("serial logs are in %s", logs)
	if !boottest.AllPassed(results) {
		return errBootFailed
	}
	return nil
}

// testEvent reports a boot test's progress on stderr.
func (a *app) testEvent(e boottest.Event) {
	switch e.Kind {
	case boottest.EventDone:
		a.info("test %s on %s (%s): %s", e.Case.Entry.Name, e.Case.Firmware, e.Result.Accel, e.Result.Status())
	case boottest.EventEnrol:
		a.info("enrolling %s on %s with MokManager over the serial console", strings.Join(e.Enrol, ", "), e.Case.Firmware)
	case boottest.EventEnrolled:
		if e.Err != nil {
			a.warn("MokManager enrolment on %s failed: %v", e.Case.Firmware, e.Err)
		}
	case boottest.EventProbe:
		verdict := "passed: KVM runs " + e.Probe.Kind
		if e.Probe.Why != "" {
			verdict = "failed: TCG runs " + e.Probe.Kind
		}
		a.info("KVM probe for %s %s (%s)", e.Probe.Kind, verdict, e.Probe.Took.Round(100*time.Millisecond))
	}
}

// testMachines turns --firmware words into the machines compose plans
// cases for, with Secure Boot enforced under --secure-boot; none means the
// manifest's.
func testMachines(flags []string, sb bool) ([]compose.Machine, error) {
	var out []compose.Machine
	for _, s := range flags {
		f, err := boottest.ParseVariant(s)
		if err == nil && sb {
			f, err = f.WithSecureBoot()
		}
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, compose.Machine{Firmware: f.Target(), SecureBoot: f.SecureBoot()})
	}
	return out, nil
}

// bootCases joins compose's plan to the QEMU runner: this is where the two
// meet, so that compose does not depend on boottest. onlySB keeps the
// Secure Boot cases (--secure-boot without --firmware).
func bootCases(cs []compose.BootCase, timeout time.Duration, onlySB bool) ([]boottest.Case, error) {
	out := make([]boottest.Case, 0, len(cs))
	for _, c := range cs {
		if onlySB && !c.Machine.SecureBoot {
			continue
		}
		bc, err := boottest.CaseOf(c.Entry, c.Index, c.Title, c.Machine.Firmware, c.Machine.SecureBoot)
		if err != nil {
			return nil, err
		}
		if bc.Proof, err = boottest.ParseProof(c.Proof); err != nil {
			return nil, err
		}
		bc.Marker, bc.Timeout, bc.Enrol = c.Marker, timeout, c.Enrol
		if c.Unsigned {
			bc.ExpectFail = boottest.ReasonPayloadNotSigned
		}
		out = append(out, bc)
	}
	if onlySB && len(out) == 0 {
		return nil, usageError{errors.New("--secure-boot: the kit has no Secure Boot target (set secure_boot: true)")}
	}
	return out, nil
}
