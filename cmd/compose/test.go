package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
An ISO's 'expect:' regexp is the proof of success; without one, a started
kernel is the bar. Entries Debian's shim will refuse under Secure Boot are
expected to fail that way. Without IMAGE, the kit is built first (as apply).
The manifest's menu must use console: serial or both. Firmware names are the
manifest's (bios, uefi-x64, uefi-ia32, uefi-arm64); "-sb" or --secure-boot
enforces Secure Boot. --accel auto runs KVM where /dev/kvm opens and falls back
to TCG for the rest of the run when QEMU reports that KVM failed the guest.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.bootTest(cmd, args, &tf)
		},
	}
	tf.ff.register(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&tf.firmware, "firmware", nil, "firmware to test on: bios, uefi-x64, uefi-ia32, uefi-arm64, with -sb for Secure Boot (repeatable; default: the manifest's targets)")
	f.BoolVar(&tf.sb, "secure-boot", false, "test only with Secure Boot enforced (uefi-x64 and uefi-arm64)")
	f.StringVar(&tf.accel, "accel", string(boottest.AccelAuto), "QEMU accelerator: auto (KVM, TCG where KVM fails), kvm or tcg")
	f.StringSliceVar(&tf.entries, "entry", nil, "entry names to test (repeatable; default: all)")
	f.StringVar(&tf.logs, "logs", "", "keep each boot's serial log in this `dir` (default: a temporary dir)")
	f.DurationVar(&tf.timeout, "timeout", boottest.DefaultTimeout, "give up on one boot after this long")
	f.IntVar(&tf.memory, "memory", boottest.DefaultMemory, "guest memory in `MiB`")
	return cmd
}

func (a *app) bootTest(cmd *cobra.Command, args []string, tf *testFlags) error {
	ctx := cmd.Context()
	m, l, err := a.needLock()
	if err != nil {
		return err
	}
	if m.Menu.Console == "vga" {
		return fmt.Errorf("%s: menu.console is vga: compose test reads the menu on the serial console; set it to serial or both", m.File)
	}
	img, cleanup, err := a.testImage(cmd, args, &tf.ff)
	if err != nil {
		return err
	}
	defer cleanup()
	f, err := a.fetcher(&tf.ff, nil)
	if err != nil {
		return err
	}
	p, err := compose.MakePlan(ctx, m, l, f, img)
	if err != nil {
		return err
	}
	fws, err := testFirmware(tf.firmware, tf.sb, compose.BootFirmware(m))
	if err != nil {
		return err
	}
	accel, err := boottest.ParseAccel(tf.accel)
	if err != nil {
		return usageError{err}
	}
	cases, err := p.BootCases(m, fws)
	if err != nil {
		return err
	}
	cases = onlyEntries(cases, tf.entries, tf.timeout)
	logs := tf.logs
	if logs == "" {
		if logs, err = os.MkdirTemp("", "compose-test-"); err != nil {
			return err
		}
	}
	r := &boottest.Runner{Image: img, LogDir: logs, Memory: tf.memory, Accel: accel, OnEvent: func(e boottest.Event) {
		if e.Kind == boottest.EventDone {
			a.info("test %s on %s (%s): %s", e.Case.Entry.Name, e.Case.Firmware, e.Result.Accel, e.Result.Status())
		}
	}}
	results, err := r.RunAll(ctx, cases)
	if err != nil {
		return err
	}
	if err := a.result(results, func(w io.Writer) error { return boottest.WriteTable(w, results) }); err != nil {
		return err
	}
	if msg := r.KVMBroken(); msg != "" {
		a.warn("KVM could not run the guest (%s): the run fell back to TCG", msg)
	}
	a.info("serial logs are in %s", logs)
	if !boottest.AllPassed(results) {
		return errBootFailed
	}
	return nil
}

// testImage is IMAGE, or a kit built now into a temporary directory.
func (a *app) testImage(cmd *cobra.Command, args []string, ff *fetchFlags) (string, func(), error) {
	if len(args) == 1 {
		return args[0], func() {}, nil
	}
	dir, err := os.MkdirTemp("", "compose-test-image-")
	if err != nil {
		return "", nil, err
	}
	img := filepath.Join(dir, "kit.img")
	if _, _, err := a.build(cmd.Context(), ff, img, false, nil); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return img, func() { os.RemoveAll(dir) }, nil
}

// testFirmware is the --firmware list (the kit's targets without one),
// each with Secure Boot enforced under --secure-boot.
func testFirmware(flags []string, sb bool, kit []boottest.Firmware) ([]boottest.Firmware, error) {
	if len(flags) == 0 {
		if !sb {
			return kit, nil
		}
		var out []boottest.Firmware
		for _, f := range kit {
			if f.SecureBoot() {
				out = append(out, f)
			}
		}
		if len(out) == 0 {
			return nil, usageError{errors.New("--secure-boot: the kit has no Secure Boot target (set secure_boot: true)")}
		}
		return out, nil
	}
	var out []boottest.Firmware
	for _, s := range flags {
		f, err := boottest.ParseFirmware(s)
		if err == nil && sb {
			f, err = f.WithSecureBoot()
		}
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, f)
	}
	return out, nil
}

func onlyEntries(cases []boottest.Case, names []string, timeout time.Duration) []boottest.Case {
	var out []boottest.Case
	for _, c := range cases {
		if len(names) == 0 || slices.Contains(names, c.Entry.Name) {
			c.Timeout = timeout
			out = append(out, c)
		}
	}
	return out
}
