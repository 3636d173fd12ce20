package main

import (
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

func newPlanCmd(a *app) *cobra.Command {
	var (
		ff       fetchFlags
		img, dev string
		recreate bool
		detailed bool
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would do: downloads, partitions, files, menu entries, warnings",
		Long: `plan computes what 'compose apply' would do and changes nothing: the ISOs still
to download, the partitions with their sizes, the files on each, the menu
entries and how each ISO boots (for ISOs already in the cache), and warnings.
It reads sizes and digests from the manifest's lock ('compose lock' writes it).

When --image FILE or --device DEV already holds a kit, plan also shows what
apply would change there: + add, ~ replace, - remove (ISOs, the menu, boot
files), or "no changes" (its ISOs checked by size and a sample of their first
and last 64 KiB: 'compose verify' reads them whole), whether the change takes
two steps (no room for new ISOs beside the old), and why the target could
only be rewritten in full (--recreate) when it is not a compose kit, was
changed outside compose, or its partitions cannot take the change. On an
existing kit that difference is the plan: the partitions and files of a
fresh image are shown only when apply would build one (a new FILE, no
target, or --recreate); --json says which in "action" ("create", "change",
"none" or "recreate").

With --detailed-exitcode, plan exits 7 when apply would do something (build
an image, change the kit, or need --recreate) and 0 when the target already
holds this kit, as terraform's plan -detailed-exitcode does; errors keep
their own codes.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dev != "" {
				if err := linuxOnly("plan --device"); err != nil {
					return err
				}
			}
			ff.noFetch = true // plan downloads no ISO; it reads checksum lists to check the lock
			k, err := a.loadKit(&ff, nil)
			if err != nil {
				return err
			}
			if img != "" && dev != "" {
				return usageError{errors.New("give --image or --device, not both")}
			}
			if dev != "" {
				img = dev
			}
			if img == "-" {
				return usageError{errStdoutImage}
			}
			p, err := k.Plan(cmd.Context(), img, compose.PlanOptions{Recreate: recreate, Device: dev != ""})
			if err != nil {
				return err
			}
			// Warnings go to stderr as every verb's do (output.go); --json
			// carries them in the plan.
			for _, w := range p.Warnings {
				a.warn("%s", w)
			}
			if err := a.result(viewPlan(p, recreate), func(w io.Writer) error { return printPlan(w, p, recreate) }); err != nil {
				return err
			}
			if detailed && planAction(p, recreate) != actionNone {
				return errPending
			}
			return nil
		},
	}
	ff.register(cmd)
	cmd.Flags().Lookup("offline").Hidden = true
	cmd.Flags().Lookup("jobs").Hidden = true
	cmd.Flags().Lookup("idle-timeout").Hidden = true
	onceVar(cmd.Flags(), &img, "image", "", "", "the image `file` apply would write")
	onceVar(cmd.Flags(), &dev, "device", "", "", "show what apply would change on the kit on this `device`")
	cmd.Flags().BoolVar(&recreate, "recreate", false, "plan a full rewrite, ignoring what the target holds")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 7 when apply would change something (0: the target already holds this kit)")
	return cmd
}

// Plan actions: what apply would do to the target, the same in text and
// --json ("action").
const (
	actionCreate   = "create"   // build a new image (no target, a new one, or --recreate)
	actionChange   = "change"   // change the kit on the target in place
	actionNone     = "none"     // the target already holds this kit
	actionRecreate = "recreate" // the target cannot be changed in place: apply needs --recreate
	// the target exists, but what apply changes there is known only once
	// every ISO is in the cache (the diff compares digests and boot files)
	actionFetchFirst = "fetch_first"
)

// planView is the plan as printed: on an existing kit the diff is the
// plan, and the fresh layout (partitions and their files) is shown only
// when apply would build one, so text and JSON never show both.
type planView struct {
	*compose.Plan
	Action     string                  `json:"action"`
	Partitions []compose.PartitionPlan `json:"partitions,omitempty"`
}

func viewPlan(p *compose.Plan, recreate bool) planView {
	v := planView{Plan: p, Action: planAction(p, recreate)}
	if v.Action == actionCreate {
		v.Partitions = p.Partitions
	}
	return v
}

func planAction(p *compose.Plan, recreate bool) string {
	switch d := p.Diff; {
	case d == nil && !p.Ready && !recreate && targetExists(p.Image):
		return actionFetchFirst
	case d == nil:
		return actionCreate
	case len(d.Recreate) > 0:
		return actionRecreate
	case d.NoChanges:
		return actionNone
	}
	return actionChange
}

// targetExists reports whether path names a file or device that holds
// something: an empty file is built afresh.
func targetExists(path string) bool {
	fi, err := os.Stat(path)
	return path != "" && err == nil && (fi.Size() > 0 || fi.Mode()&os.ModeDevice != 0)
}

func printPlan(w io.Writer, p *compose.Plan, recreate bool) error {
	v := viewPlan(p, recreate)
	target := p.Image
	if target == "" {
		target = "an image"
	}
	sb := "off"
	if p.SecureBoot {
		sb = "on"
	}
	if v.Action == actionCreate {
		printf(w, "%s → %s, %s\n", p.Manifest, target, humanSize(p.Size))
	} else {
		printf(w, "%s → %s (a kit already: changed in place)\n", p.Manifest, target)
	}
	printf(w, "firmware: %s; Secure Boot %s\n", strings.Join(p.Firmware, ", "), sb)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(p.Downloads) > 0 {
		printf(tw, "\ndownloads:\n")
		for _, d := range p.Downloads {
			printf(tw, "  %s\t%s\t%s\n", d.Name, humanSize(d.Size), d.URL)
		}
	}
	printLayout(tw, v.Partitions)
	printPersistence(tw, p.Persistence)
	printWindows(tw, p.Windows)
	if v.Action == actionCreate {
		printf(tw, "\nmenu entries:\n")
		for _, e := range p.Entries {
			printf(tw, "  %s\t%q\t%s\n", e.Name, e.Title, entryBoot(e))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printSecureBoot(w, p)
	if p.Diff != nil {
		printDiff(w, p.Diff)
	}
	if v.Action == actionFetchFirst {
		printf(w, "\n%s exists: what apply changes there shows once every ISO above is in the cache ('compose fetch')\n", p.Image)
	}
	for _, n := range p.Notes {
		printf(w, "note: %s\n", n)
	}
	return nil
}

// printLayout shows the partitions of a new image and the files on each.
func printLayout(tw io.Writer, parts []compose.PartitionPlan) {
	if len(parts) == 0 {
		return
	}
	printf(tw, "\npartitions:\n")
	for _, pt := range parts {
		printf(tw, "  %d\t%s\t%s\t%s\tat %s\t%s\n", pt.Index, pt.Name, pt.FS, humanSize(pt.Size), humanSize(pt.Offset), pt.Label)
	}
	for _, pt := range parts {
		if len(pt.Files) > 0 {
			printf(tw, "\nfiles on partition %d (%s):\n", pt.Index, pt.Name)
		}
		for _, f := range pt.Files {
			printf(tw, "  %s\t%s\n", f.Path, humanSize(f.Size))
		}
	}
}

// printPersistence shows each persistence partition and what apply does
// with it: created, kept byte for byte, or discarded with its data.
func printPersistence(tw io.Writer, ps []compose.PersistencePlan) {
	if len(ps) == 0 {
		return
	}
	printf(tw, "\npersistence:\n")
	for _, pp := range ps {
		what := pp.Action
		switch pp.Action {
		case compose.PersistKeep:
			what = "kept as it is, byte for byte"
		case compose.PersistDiscard:
			used := "an unknown amount"
			if pp.Used >= 0 {
				used = humanSize(pp.Used)
			}
			what = fmt.Sprintf("DISCARDED (%s): %s of data in use goes; apply needs --discard-persistence %s", pp.Reason, used, pp.Entry)
		}
		printf(tw, "  %s\t%s\t%s\tat %s\t%s\t%s\n", pp.Entry, pp.Label, humanSize(pp.Size), humanSize(pp.Offset), strings.Join(pp.Args, " "), what)
	}
}

func entryBoot(e compose.EntryPlan) string {
	if e.Boot == nil {
		return "(detected once downloaded)"
	}
	s := string(e.Boot.Family)
	if e.Boot.Kernel != "" {
		s += " " + e.Boot.Kernel
	}
	if e.Args != "" {
		s += " + " + e.Args
	}
	return s
}

// changeName names a change's file: an ISO by its name, and on the data
// partition, where a replacement gets a new path, by its paths too.
func changeName(c converge.Change) string {
	switch {
	case c.Name == "":
		return c.Path
	case c.OldPath != "":
		return fmt.Sprintf("%s (%s, was %s)", c.Name, c.Path, c.OldPath)
	case c.Leftover:
		return fmt.Sprintf("%s (%s, left by an interrupted apply: kept if its digest matches)", c.Name, c.Path)
	}
	return c.Name
}

// printDiff shows what apply changes on an existing target.
func printDiff(w io.Writer, d *converge.Diff) {
	if d.Resume {
		printf(w, "\n%s holds the interim kit of an interrupted two-step apply\n", d.Target)
	}
	switch {
	case len(d.Recreate) > 0:
		printf(w, "\n%s cannot be changed in place:\n", d.Target)
		for _, r := range d.Recreate {
			printf(w, "  - %s\n", r)
		}
		printf(w, "apply --recreate rewrites it in full (everything on it is erased)\n")
		return
	case d.NoChanges:
		printf(w, "\nno changes: %s already holds this kit %s\n", d.Target, sampledNote)
		return
	}
	printf(w, "\nchanges to %s:\n", d.Target)
	if d.Replay {
		printf(w, "  its data partition's journal holds an interrupted apply's last change: apply replays it first\n")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range d.Changes {
		printf(tw, "  %s %s\t%s\t%s\n", c.Op, c.Kind, changeName(c), humanSize(c.Size))
	}
	tw.Flush()
	if d.Interim == nil {
		printf(w, "apply writes %s of files in place\n", humanSize(d.Write))
		return
	}
	in := d.Interim
	printf(w, "apply writes %s of files in place, in two steps: the ESP has too little free room for the new ISOs beside the old\n", humanSize(d.Write))
	printf(w, "  1. delete %s (files and menu entries), freeing %s\n", strings.Join(in.Removed, ", "), humanSize(in.Frees))
	printf(w, "  2. write %s of new ISOs (about %s free by then) and the final menu\n", humanSize(in.Adds), humanSize(in.Free))
	printf(w, "an interruption between the steps leaves a kit without %s; apply again finishes it\n", strings.Join(in.Missing, ", "))
}
