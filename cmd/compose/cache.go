package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// cacheItem is one cache file as printed: with the entries of the
// manifest's lock that use it.
type cacheItem struct {
	fetch.CacheEntry
	UsedBy []string `json:"used_by"`
}

type cacheView struct {
	Dir     string      `json:"dir"`
	Size    int64       `json:"size"`
	Entries []cacheItem `json:"entries"`
}

type pruneView struct {
	Dir     string      `json:"dir"`
	DryRun  bool        `json:"dry_run"`
	Freed   int64       `json:"freed"`
	Removed []cacheItem `json:"removed"`
}

func newCacheCmd(a *app) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "List the ISO cache: each file's digest, size and age, and which entries of the manifest's lock use it",
		Long: `cache lists the files in the ISO cache (--cache-dir, else $COMPOSE_CACHE_DIR,
else the user cache directory/compose): each verified entry and each partial
download (interrupted, or "in use" while a compose downloads or checks it),
with its size, its age (since it was downloaded) and the entries of the
manifest's lock (-f) that use it. 'compose cache prune' removes files.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := openCache(dir)
			if err != nil {
				return err
			}
			var es []fetch.CacheEntry
			if f != nil {
				if es, err = f.List(); err != nil {
					return err
				}
			}
			v := cacheView{Dir: cacheDirOf(f, dir), Size: fetch.CacheSize(es), Entries: a.cacheItems(es)}
			return a.result(v, func(w io.Writer) error { return printCache(w, v, time.Now()) })
		},
	}
	cmd.PersistentFlags().StringVar(&dir, "cache-dir", "", "ISO cache `dir` (default $COMPOSE_CACHE_DIR, else the user cache dir)/compose")
	cmd.AddCommand(newCachePruneCmd(a, &dir))
	return cmd
}

func newCachePruneCmd(a *app, dir *string) *cobra.Command {
	var (
		age          string
		unreferenced bool
		dryRun       bool
	)
	cmd := &cobra.Command{
		Use:   "prune (--older-than AGE | --unreferenced)",
		Short: "Remove cache files older than an age, or that the manifest's lock does not use",
		Long: `prune removes the cache files its rules select, both when both are given:
--older-than AGE (downloaded that long ago: 90d, 36h, 45m) and
--unreferenced (not used by the lock of the manifest -f names; other
manifests sharing the cache are not read). Interrupted partial downloads
count as files. A file another compose is downloading, checking or
replacing right now is skipped, never waited for: each removal is made
under the file's lock, as every change of a cache entry is. A removed ISO
is downloaded again when a kit needs it. --dry-run lists what would go.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := fetch.PruneOptions{DryRun: dryRun}
			if age != "" {
				d, err := parseAge(age)
				if err != nil {
					return usageError{fmt.Errorf("--older-than: %w", err)}
				}
				opts.OlderThan = d
			}
			if opts.OlderThan == 0 && !unreferenced {
				return usageError{errors.New("prune needs --older-than AGE or --unreferenced (or both)")}
			}
			refs, err := a.lockDigests(unreferenced)
			if err != nil {
				return err
			}
			if unreferenced {
				opts.Keep = func(alg, digest string) bool { return len(refs[alg+":"+digest]) > 0 }
			}
			f, err := openCache(*dir)
			if err != nil {
				return err
			}
			var rm []fetch.CacheEntry
			if f != nil {
				if rm, err = f.Prune(cmd.Context(), opts); err != nil {
					return err
				}
			}
			v := pruneView{Dir: cacheDirOf(f, *dir), DryRun: dryRun, Freed: fetch.CacheSize(rm), Removed: a.itemsWith(rm, refs)}
			return a.result(v, func(w io.Writer) error { return printPruned(w, v) })
		},
	}
	cmd.Flags().StringVar(&age, "older-than", "", "remove files downloaded at least this `age` ago (90d, 36h, 45m)")
	cmd.Flags().BoolVar(&unreferenced, "unreferenced", false, "remove files the manifest's lock does not use")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed, remove nothing")
	return cmd
}

// openCache opens the cache at dir (default: fetch's), or returns nil
// when there is none yet: listing or pruning it creates nothing.
func openCache(dir string) (*fetch.Fetcher, error) {
	if dir == "" {
		d, err := fetch.DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return fetch.New(fetch.Options{CacheDir: dir})
}

// cacheDirOf names the cache for the output, opened or not.
func cacheDirOf(f *fetch.Fetcher, dir string) string {
	if f != nil {
		return f.CacheDir()
	}
	if dir == "" {
		dir, _ = fetch.DefaultCacheDir()
	}
	return dir
}

// parseAge reads a Go duration or a number of days ("90d").
func parseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("%q is not a positive number of days", s)
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive age (90d, 36h, 45m)", s)
	}
	return d, nil
}

// lockDigests maps "alg:digest" to the entries of the manifest's lock
// that pin it. Without a manifest or lock it is empty, unless need says
// the caller cannot do without it.
func (a *app) lockDigests(need bool) (map[string][]string, error) {
	refs := map[string][]string{}
	if a.file == "-" {
		if need {
			return nil, usageError{errors.New("--unreferenced reads the manifest's lock beside it: name the manifest with -f, not -")}
		}
		return refs, nil
	}
	if _, err := os.Stat(a.file); err != nil && !need {
		return refs, nil
	}
	k, err := compose.Load(a.file, compose.Options{})
	if err != nil {
		return nil, err
	}
	a.kit = k
	l, err := config.LoadLock(k.LockPath())
	switch {
	case errors.Is(err, os.ErrNotExist) && need:
		return nil, fmt.Errorf("--unreferenced keeps what %s pins: %w", k.LockPath(), compose.ErrNoLock)
	case errors.Is(err, os.ErrNotExist):
		return refs, nil
	case err != nil:
		return nil, err
	}
	for _, iso := range l.ISOs {
		key := iso.Algorithm + ":" + iso.Digest
		refs[key] = append(refs[key], iso.Name)
	}
	return refs, nil
}

func (a *app) cacheItems(es []fetch.CacheEntry) []cacheItem {
	refs, _ := a.lockDigests(false) // listing works without a manifest
	return a.itemsWith(es, refs)
}

func (a *app) itemsWith(es []fetch.CacheEntry, refs map[string][]string) []cacheItem {
	out := make([]cacheItem, len(es))
	for i, e := range es {
		out[i] = cacheItem{CacheEntry: e, UsedBy: refs[e.Algorithm+":"+e.Digest]}
	}
	return out
}

func printCache(w io.Writer, v cacheView, now time.Time) error {
	printf(w, "%s: %s in %s\n", v.Dir, humanSize(v.Size), count(len(v.Entries), "file"))
	if len(v.Entries) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printf(tw, "DIGEST\tSIZE\tAGE\tUSED BY\n")
	for _, e := range v.Entries {
		printf(tw, "%s\t%s\t%s\t%s\n", shortDigest(e.CacheEntry), humanSize(e.Size), humanAge(now.Sub(e.Modified)), usedBy(e))
	}
	return tw.Flush()
}

func printPruned(w io.Writer, v pruneView) error {
	verb := "removed"
	if v.DryRun {
		verb = "would remove"
	}
	for _, e := range v.Removed {
		printf(w, "%s %s (%s)\n", verb, shortDigest(e.CacheEntry), humanSize(e.Size))
	}
	if v.DryRun {
		printf(w, "%s: would remove %s, freeing %s\n", v.Dir, count(len(v.Removed), "file"), humanSize(v.Freed))
		return nil
	}
	printf(w, "%s: removed %s, freed %s\n", v.Dir, count(len(v.Removed), "file"), humanSize(v.Freed))
	return nil
}

func shortDigest(e fetch.CacheEntry) string {
	s := e.Algorithm + ":" + e.Digest[:16] + "…"
	if e.Partial {
		s += " (partial)"
	}
	return s
}

func usedBy(e cacheItem) string {
	switch {
	case e.Busy:
		return "in use: being downloaded or checked"
	case e.Partial:
		return "interrupted download"
	case len(e.UsedBy) == 0:
		return "-"
	}
	return strings.Join(e.UsedBy, ", ")
}

// humanAge is a rough age: 3d, 5h, 12m, <1m.
func humanAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return "<1m"
}
