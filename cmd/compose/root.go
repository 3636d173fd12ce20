package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "compose",
		Short: "Build multi-boot USB sticks from a declarative manifest",
		Long: `compose reads multiboot.yaml, a list of OS ISOs named by URL and checksum,
and builds a bootable multi-boot USB image or stick from it.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			a.noteUserText(cmd, args)
		},
		// Arbitrary args reach RunE, so an unknown verb becomes a usage error
		// instead of cobra's untyped one.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			cmd.SetOut(a.stderr)
			_ = cmd.Usage()
			return usageError{errors.New("no command given")}
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// cobra's own completion verb: compose completion bash|zsh|fish|powershell.
	root.CompletionOptions.HiddenDefaultCmd = false
	addExtraCommands(root, a)

	pf := root.PersistentFlags()
	onceVar(pf, &a.file, "file", "f", "multiboot.yaml", "manifest `path` (- reads standard input)")
	pf.BoolVar(&a.json, "json", false, "print machine-readable JSON on stdout")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "print only results and errors")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "print more detail (apply and test show the plan they execute)")
	pf.BoolVar(&a.strict, "strict", false, "fail when a menu entry would not find its ISO (as strict: true in the manifest)")

	root.AddCommand(
		newInitCmd(a),
		newValidateCmd(a),
		newLockCmd(a),
		newFetchCmd(a),
		newPlanCmd(a),
		newApplyCmd(a),
		newVerifyCmd(a),
		newInspectCmd(a),
		newBootCmd(a),
		newDevicesCmd(a),
		newTestCmd(a),
		newSchemaCmd(a),
		newVersionCmd(a),
	)
	for _, c := range root.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return root
}

// once is a string flag that may be given once: pflag keeps the last of
// repeated values, so "verify --image a.img --image b.img" read b.img
// alone and said "all ok" of a kit it never read, and "apply --image
// a.img --image b.img" wrote b.img (found by the recheck pass).
type once struct {
	p   *string
	set bool
}

func onceVar(fs *pflag.FlagSet, p *string, name, short, value, usage string) {
	*p = value
	fs.VarP(&once{p: p}, name, short, usage)
}

func (o *once) String() string { return *o.p }
func (o *once) Type() string   { return "string" }

func (o *once) Set(v string) error {
	if o.set && v != *o.p {
		return fmt.Errorf("given twice (%q and %q): name one", *o.p, v)
	}
	*o.p, o.set = v, true
	return nil
}

// wrapArgs marks argument-count errors as usage errors.
func wrapArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	if check == nil {
		check = cobra.NoArgs
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
