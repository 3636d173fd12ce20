package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCmd(a *app) *cobra.Command {
	var showVersion bool
	versionCmd := newVersionCmd(a)
	root := &cobra.Command{
		Use:   "compose",
		Short: "Build multi-boot USB sticks from a declarative manifest",
		Long: `compose reads multiboot.yaml, a list of OS ISOs named by URL and checksum,
and builds a bootable multi-boot USB image or stick from it.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			a.noteUserText(cmd, args)
			return a.refuseFrozen(cmd)
		},
		// Arbitrary args reach RunE, so an unknown verb becomes a usage error
		// instead of cobra's untyped one.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				return versionCmd.RunE(versionCmd, nil)
			}
			if len(args) > 0 {
				return unknownVerb(cmd, args[0])
			}
			cmd.SetOut(a.stderr)
			_ = cmd.Usage()
			return usageError{errors.New("no command given")}
		},
	}
	root.Flags().BoolVar(&showVersion, "version", false, "print the version (as 'compose version')")
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// cobra's own completion verb: compose completion bash|zsh|fish|powershell.
	root.CompletionOptions.HiddenDefaultCmd = false
	addExtraCommands(root, a)

	pf := root.PersistentFlags()
	onceVar(pf, &a.file, "file", "f", defaultManifest, "manifest `path` (- reads standard input)")
	pf.BoolVar(&a.json, "json", false, "print machine-readable JSON on stdout")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "print only results and errors")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "print more detail (apply and test show the plan they execute)")
	pf.BoolVar(&a.frozen, "frozen", false, "never write or change a lock: fail where one is missing or out of date (also "+frozenEnv+"=1)")
	pf.BoolVar(&a.strict, "strict", false, "fail when a menu entry would not find its ISO (as strict: true in the manifest)")

	root.AddCommand(
		newInitCmd(a),
		newValidateCmd(a),
		newLockCmd(a),
		newUpdateCmd(a),
		newFetchCmd(a),
		newPlanCmd(a),
		newApplyCmd(a),
		newVerifyCmd(a),
		newInspectCmd(a),
		newBootCmd(a),
		newDevicesCmd(a),
		newCacheCmd(a),
		newTestCmd(a),
		newSchemaCmd(a),
		versionCmd,
	)
	root.SuggestionsMinimumDistance = 2
	root.SetHelpCommand(newHelpCmd(root))
	wrapAllArgs(root)
	addCompletions(root, a)
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

// wrapAllArgs wraps the argument checks of every verb below root; a verb
// with verbs of its own (compose cache prune) names a mistyped one with a
// suggestion, as the root does.
func wrapAllArgs(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.HasSubCommands() && c.Args == nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return unknownVerb(cmd, args[0])
				}
				return nil
			}
		}
		c.Args = wrapArgs(c.Args)
		wrapAllArgs(c)
	}
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

// unknownVerb is the usage error for a verb compose does not have, with
// the verbs it is closest to ("aply": apply).
func unknownVerb(parent *cobra.Command, verb string) error {
	return usageError{&unknownVerbError{
		msg:     fmt.Sprintf("unknown command %q for %q", verb, parent.CommandPath()),
		suggest: parent.SuggestionsFor(verb),
	}}
}

type unknownVerbError struct {
	msg     string
	suggest []string
}

func (e *unknownVerbError) Error() string { return e.msg }

// newHelpCmd replaces cobra's help verb, which prints the root's help for
// a topic it does not know ("compose help aply") and exits 0.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var verbs []string
			for _, c := range root.Commands() {
				if c.IsAvailableCommand() {
					verbs = append(verbs, c.Name()+"\t"+c.Short)
				}
			}
			return verbs, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				parent, verb := root, ""
				if target != nil && len(rest) > 0 {
					parent, verb = target, rest[0]
				} else if len(args) > 0 {
					verb = args[len(args)-1]
				}
				return unknownVerb(parent, verb)
			}
			target.SetOut(cmd.OutOrStdout())
			return target.Help()
		},
	}
}
