package bootloader

import (
	"fmt"
	"path"
	"strings"
)

// An ISO's own /boot/grub/loopback.cfg is used only when everything it sources or
// configfiles resolves inside the ISO. Seen otherwise: grml ≥ 0.57 sources
// "${prefix}/grub.cfg", which under compose is compose's own menu (an endless loop), and a
// loopback.cfg sourcing a file the ISO lacks shows no menu at all.

const maxChain = 16 // files followed at most; real chains have two or three

// lbChain is what following a loopback.cfg found.
type lbChain struct {
	files   []string // followed, in order
	problem string   // why it cannot be used; "" when the whole chain stays in the ISO
	kernel  string   // what its first entry boots
	initrds []string
}

func (t *tree) loopbackChain() lbChain {
	var c lbChain
	t.followCfg(loopbackCfgPath, &c, nil)
	return c
}

// followCfg reads one config of the chain; stack holds the files being read, to find loops.
func (t *tree) followCfg(p string, c *lbChain, stack []string) {
	for _, s := range stack {
		if s == p {
			c.problem = fmt.Sprintf("%s sources itself through %s", p, strings.Join(stack, " → "))
			return
		}
	}
	if len(c.files) >= maxChain {
		c.problem = fmt.Sprintf("its chain of sourced files is longer than %d", maxChain)
		return
	}
	c.files = append(c.files, p)
	stack = append(stack, p)
	for _, cmd := range grubCommands(string(t.readSmall(p))) {
		if c.problem != "" {
			return
		}
		t.chainCommand(p, cmd, c, stack)
	}
}

func (t *tree) chainCommand(p string, cmd []string, c *lbChain, stack []string) {
	if len(cmd) < 2 {
		return
	}
	switch cmd[0] {
	case "source", "configfile", ".":
		target, why := t.resolveCfgPath(cmd[1])
		if why != "" {
			c.problem = fmt.Sprintf("%s runs %s %s, which %s", p, cmd[0], cmd[1], why)
			return
		}
		t.followCfg(target, c, stack)
	case "linux", "linuxefi", "linux16":
		if c.kernel == "" {
			c.kernel, _ = t.resolveCfgPath(firstPath(cmd[1:]))
		}
	case "initrd", "initrdefi", "initrd16":
		if c.kernel != "" && c.initrds == nil {
			for _, a := range cmd[1:] {
				if f, why := t.resolveCfgPath(a); why == "" {
					c.initrds = append(c.initrds, f)
				}
			}
		}
	}
}

// firstPath skips linux's options (--no-verify …) to the kernel path.
func firstPath(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// resolveCfgPath maps a file name in the ISO's config to a path in the ISO, or says why
// it leaves the ISO.
func (t *tree) resolveCfgPath(a string) (string, string) {
	if strings.Contains(a, "$prefix") || strings.Contains(a, "${prefix}") {
		return "", "reads ${prefix}: compose's own GRUB directory, not the ISO's"
	}
	for _, dev := range []string{"($root)", "(${root})", "(loop)"} {
		a = strings.TrimPrefix(a, dev)
	}
	switch {
	case strings.HasPrefix(a, "("):
		return "", "names another device"
	case strings.Contains(a, "$"):
		return "", "depends on a variable compose cannot check"
	case !strings.HasPrefix(a, "/"):
		return "", "is not an absolute path"
	}
	a = path.Clean(a)
	if !t.files[a] {
		return "", "the ISO does not hold"
	}
	return a, ""
}

// grubCommands splits GRUB script into commands of words, quotes removed: enough of the
// language to find source, configfile, linux and initrd lines (`{`, `}`, `;` and newlines
// end a command; comments are dropped).
func grubCommands(src string) [][]string {
	var out [][]string
	for _, line := range strings.Split(src, "\n") {
		var cmd []string
		for _, w := range strings.Fields(line) {
			if strings.HasPrefix(w, "#") {
				break
			}
			end := strings.HasSuffix(w, ";")
			w = strings.TrimSuffix(w, ";")
			if w == "{" || w == "}" || w == "" {
				out, cmd = appendCmd(out, cmd), nil
				continue
			}
			cmd = append(cmd, strings.Trim(w, `"'`))
			if end {
				out, cmd = appendCmd(out, cmd), nil
			}
		}
		out = appendCmd(out, cmd)
	}
	return out
}

func appendCmd(out [][]string, cmd []string) [][]string {
	if len(cmd) > 0 {
		out = append(out, cmd)
	}
	return out
}

// useLoopbackCfg decides whether the ISO boots through its own loopback.cfg; own is the
// family compose's detection found without it. Why not is recorded in d.
func (t *tree) useLoopbackCfg(d *Detection, ov Overrides, own Family) bool {
	c := t.loopbackChain()
	d.LoopbackChain = c.files
	switch {
	case c.problem != "":
		d.Notes = append(d.Notes, "the ISO's loopback.cfg is not used: "+c.problem)
		return false
	case strings.TrimSpace(ov.Args) != "" && own != "":
		d.Notes = append(d.Notes, "args: given, so compose boots the ISO with its own entry: an ISO's loopback.cfg cannot take extra kernel arguments")
		return false
	case ov.Persistent && own != "":
		d.Notes = append(d.Notes, "persistence: given, so compose boots the ISO with its own entry: an ISO's loopback.cfg cannot take the persistence arguments")
		return false
	}
	return true
}
