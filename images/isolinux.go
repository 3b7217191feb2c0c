package images

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// KickstartLabel is the isolinux label Remaster adds, and KickstartArg the
// kernel argument it carries. CentOS 6 anaconda reads ks=, not inst.ks=.
const (
	KickstartLabel     = "ks"
	KickstartMenuLabel = "Install MT with ^kickstart"
	KickstartArg       = "ks=cdrom:/ks.cfg"
	// SharedKickstartArg is the boot argument of shared install media
	// (RemasterShared): the media carries no kickstart; each MT's travels
	// on a seed ISO in the VM's second CD-ROM, which the RHEL 6 kernel
	// names sr1 (the media, IDE 0:0, is sr0; the seed, IDE 0:1, sr1).
	//
	// An assumption about anaconda 13 (RHEL/CentOS 6), from its loader's
	// source (loader/hdinstall.c kickstartFromHD, loader/kickstart.c
	// getKickstartFromBlockDevice): "ks=hd:<device>:/<path>" mounts
	// /dev/<device> trying ext2, vfat and iso9660 and reads <path>. It has
	// not been booted on real CentOS 6.6 media here (the boot test uses a
	// busybox stand-in for the loader). The same loader's "ks=cdrom:"
	// tries every CD-ROM in turn, so it would also find the seed: a
	// fallback if a VM ever numbers its CD-ROMs differently.
	SharedKickstartArg = "ks=hd:sr1:/ks.cfg"
	// DefaultTimeout is how long the menu waits before booting the
	// kickstart entry when RemasterOptions.Timeout is zero.
	DefaultTimeout = 5 * time.Second
	// maxTimeout is the largest timeout syslinux accepts (35996 tenths).
	maxTimeout = 35996 * 100 * time.Millisecond
)

// ErrIsolinuxCfg is wrapped by RewriteIsolinuxCfg errors: the configuration
// has no entry the kickstart entry can be cloned from.
var ErrIsolinuxCfg = errors.New("unusable isolinux.cfg")

// cfgLine is one line of isolinux.cfg with its directive split out.
// Syslinux keywords are case-insensitive; values are kept verbatim.
type cfgLine struct {
	raw    string   // the line without its end-of-line
	fields []string // whitespace-separated fields
	key    string   // lower-cased first field ("" for blank and comments)
	entry  int      // index of the label block the line is in, -1 before the first label
}

// cfgEntry is one "label" block.
type cfgEntry struct {
	name        string
	first, last int // line indexes, inclusive
	menuDefault bool
	kernel      int // line index of the kernel/linux directive, -1 if none
	initrd      int // line index of the initrd directive, -1 if none
	appendLine  int // line index of the append directive, -1 if none
}

// RewriteIsolinuxCfg returns cfg with a new label "ks" that boots the kernel
// and append line of the base's default entry plus ks=cdrom:/ks.cfg. The new
// entry is the only "menu default", the global default and the
// ontimeout target, and timeout becomes timeout in tenths of a second (at
// least 1, DefaultTimeout when zero or negative). Every other line is kept
// as it was, except "menu default" lines, which are removed. A "default"
// naming a menu module (CentOS 6: "default vesamenu.c32") becomes "ui
// <module>" so the menu still shows. An existing "ks" label (a remastered
// base) is replaced, so the rewrite is idempotent.
func RewriteIsolinuxCfg(cfg []byte, timeout time.Duration) ([]byte, error) {
	return RewriteIsolinuxCfgArg(cfg, timeout, KickstartArg)
}

// RewriteIsolinuxCfgArg is RewriteIsolinuxCfg with another kickstart
// argument than ks=cdrom:/ks.cfg (SharedKickstartArg for shared media).
func RewriteIsolinuxCfgArg(cfg []byte, timeout time.Duration, ksArg string) ([]byte, error) {
	if !strings.HasPrefix(ksArg, "ks=") || strings.ContainsAny(ksArg, " \t\r\n") {
		return nil, fmt.Errorf("iso: kickstart argument %q is not one ks=... word", ksArg)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if timeout > maxTimeout {
		return nil, fmt.Errorf("iso: isolinux.cfg: timeout %s is longer than syslinux allows (%s)", timeout, maxTimeout)
	}
	tenths := (timeout + 100*time.Millisecond - 1) / (100 * time.Millisecond)

	eol := "\n"
	if bytes.Contains(cfg, []byte("\r\n")) {
		eol = "\r\n"
	}
	lines, entries := parseCfg(cfg)

	src, err := sourceEntry(lines, entries)
	if err != nil {
		return nil, err
	}
	block := kickstartBlock(lines, src, eol, ksArg)

	var (
		out          bytes.Buffer
		wroteDefault bool
		wroteTimeout bool
		wroteOnTime  bool
		wroteBlock   bool
		hasUI        bool
	)
	for _, l := range lines {
		if l.key == "ui" {
			hasUI = true
		}
	}
	emit := func(s string) { out.WriteString(s); out.WriteString(eol) }
	defaultLines := func(module string) {
		if module != "" && !hasUI {
			emit("ui " + module)
		}
		emit("default " + KickstartLabel)
		if !hasTimeout(lines) {
			emit("timeout " + strconv.Itoa(int(tenths)))
			wroteTimeout = true
		}
		wroteDefault = true
	}
	if !hasKey(lines, "default") {
		defaultLines("")
	}
	for i, l := range lines {
		switch {
		case l.key == "default":
			if !wroteDefault {
				defaultLines(menuModule(l))
			}
			continue
		case l.key == "timeout":
			if !wroteTimeout {
				emit("timeout " + strconv.Itoa(int(tenths)))
				wroteTimeout = true
			}
			continue
		case l.key == "ontimeout":
			if !wroteOnTime {
				emit("ontimeout " + KickstartLabel)
				wroteOnTime = true
			}
			continue
		case l.entry >= 0 && isKickstartLabel(entries[l.entry].name):
			continue // the old kickstart entry of a remastered base
		case isMenuDefault(l):
			continue
		case l.key == "label" && !wroteBlock:
			// First in the menu, so it is also what a user sees selected.
			out.WriteString(block)
			wroteBlock = true
		}
		// The last line of a file without a final newline stays that way.
		if i == len(lines)-1 && !endsWithNewline(cfg) {
			out.WriteString(l.raw)
			continue
		}
		emit(l.raw)
	}
	if !wroteBlock {
		if out.Len() > 0 && !endsWithNewline(out.Bytes()) {
			out.WriteString(eol)
		}
		out.WriteString(block)
	}
	return out.Bytes(), nil
}

// parseCfg splits cfg into lines and label blocks.
func parseCfg(cfg []byte) ([]cfgLine, []cfgEntry) {
	text := string(cfg)
	text = strings.TrimSuffix(text, "\n")
	var raws []string
	if text != "" || len(cfg) > 0 {
		raws = strings.Split(text, "\n")
	}
	lines := make([]cfgLine, 0, len(raws))
	var entries []cfgEntry
	cur := -1
	for i, raw := range raws {
		raw = strings.TrimSuffix(raw, "\r")
		l := cfgLine{raw: raw, fields: strings.Fields(raw), entry: cur}
		if len(l.fields) > 0 && !strings.HasPrefix(l.fields[0], "#") {
			l.key = strings.ToLower(l.fields[0])
		}
		switch l.key {
		case "label":
			cur = len(entries)
			l.entry = cur
			entries = append(entries, cfgEntry{
				name:  strings.TrimSpace(strings.TrimSpace(raw)[len(l.fields[0]):]),
				first: i, last: i, kernel: -1, initrd: -1, appendLine: -1,
			})
		case "kernel", "linux":
			if cur >= 0 && entries[cur].kernel < 0 {
				entries[cur].kernel = i
			}
		case "initrd":
			if cur >= 0 && entries[cur].initrd < 0 {
				entries[cur].initrd = i
			}
		case "append":
			if cur >= 0 && entries[cur].appendLine < 0 {
				entries[cur].appendLine = i
			}
		}
		if cur >= 0 {
			entries[cur].last = i
			if isMenuDefault(l) {
				entries[cur].menuDefault = true
			}
		}
		lines = append(lines, l)
	}
	return lines, entries
}

// sourceEntry picks the entry the kickstart entry clones, the way the
// syslinux menu picks its default: the "menu default" entry, else the label
// named by "default", else (when "default" names a menu module) the first
// entry.
func sourceEntry(lines []cfgLine, entries []cfgEntry) (*cfgEntry, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("iso: isolinux.cfg: no label entries: %w", ErrIsolinuxCfg)
	}
	pick := func(e *cfgEntry, why string) (*cfgEntry, error) {
		if e.kernel < 0 {
			return nil, fmt.Errorf("iso: isolinux.cfg: default entry %q (%s) has no kernel line to clone: %w", e.name, why, ErrIsolinuxCfg)
		}
		return e, nil
	}
	for i := range entries {
		if entries[i].menuDefault {
			return pick(&entries[i], "menu default")
		}
	}
	var def string
	module := false
	for _, l := range lines {
		if l.key == "default" && len(l.fields) > 1 {
			def = l.fields[1] // syslinux uses the last default
			module = menuModule(l) != ""
		}
	}
	if def != "" {
		for i := range entries {
			if entries[i].name == def || firstField(entries[i].name) == def {
				return pick(&entries[i], "default "+def)
			}
		}
		for i := range entries {
			if strings.EqualFold(entries[i].name, def) {
				return pick(&entries[i], "default "+def)
			}
		}
	}
	if module || def == "" {
		for i := range entries {
			if entries[i].kernel >= 0 {
				return &entries[i], nil
			}
		}
	}
	return nil, fmt.Errorf("iso: isolinux.cfg: no \"menu default\" entry and default %q names no label: %w", def, ErrIsolinuxCfg)
}

// kickstartBlock renders the new label block, indented like the source.
func kickstartBlock(lines []cfgLine, src *cfgEntry, eol, ksArg string) string {
	k := lines[src.kernel]
	indent := k.raw[:len(k.raw)-len(strings.TrimLeft(k.raw, " \t"))]
	if indent == "" {
		indent = "  "
	}
	var b strings.Builder
	w := func(s string) { b.WriteString(indent + s + eol) }
	b.WriteString("label " + KickstartLabel + eol)
	w("menu label " + KickstartMenuLabel)
	w("menu default")
	w(strings.ToLower(k.fields[0]) + " " + rest(k))
	if src.initrd >= 0 {
		w("initrd " + rest(lines[src.initrd]))
	}
	var args []string
	if src.appendLine >= 0 {
		for _, a := range lines[src.appendLine].fields[1:] {
			// Drop an older ks= (a remastered base) and the "no
			// arguments" marker "-".
			if strings.HasPrefix(a, "ks=") || a == "-" {
				continue
			}
			args = append(args, a)
		}
	}
	args = append(args, ksArg)
	w("append " + strings.Join(args, " "))
	return b.String()
}

// rest is the line after its keyword, with surrounding blanks trimmed.
func rest(l cfgLine) string {
	s := strings.TrimSpace(l.raw)
	return strings.TrimSpace(s[len(l.fields[0]):])
}

func isMenuDefault(l cfgLine) bool {
	return l.key == "menu" && len(l.fields) > 1 && strings.EqualFold(l.fields[1], "default")
}

func isKickstartLabel(name string) bool { return strings.EqualFold(name, KickstartLabel) }

// menuModule returns the module of "default vesamenu.c32" (the pre-"ui"
// way to start a menu), or "".
func menuModule(l cfgLine) string {
	if len(l.fields) > 1 && strings.HasSuffix(strings.ToLower(l.fields[1]), ".c32") {
		return strings.Join(l.fields[1:], " ")
	}
	return ""
}

func hasKey(lines []cfgLine, key string) bool {
	for _, l := range lines {
		if l.key == key {
			return true
		}
	}
	return false
}

func hasTimeout(lines []cfgLine) bool { return hasKey(lines, "timeout") }

func endsWithNewline(b []byte) bool { return len(b) > 0 && b[len(b)-1] == '\n' }

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}
