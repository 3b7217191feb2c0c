package images

import (
	"bytes"
	"crypto/md5"
	_ "embed"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Ubuntu remaster: the boot entry, the preseeds and their places.
const (
	// UbuntuLabel is the isolinux label (in txt.cfg) the remaster adds
	// and makes the default.
	UbuntuLabel     = "mtprep"
	UbuntuMenuLabel = "^Install master target (mtprep preseed)"
	// UbuntuSharedPreseedPath is where shared media hold the generic
	// preseed (GenericPreseed), and UbuntuPreseedPath where single-ISO
	// media hold the MT's own.
	UbuntuSharedPreseedPath = "preseed/mtprep.seed"
	UbuntuPreseedPath       = "preseed/mt.seed"
	// UbuntuSeedPreseed is the name of the MT's preseed on its seed CD
	// (at the root, volume SeedLabel), as the generic preseed loads it.
	UbuntuSeedPreseed = "preseed.cfg"
	// UbuntuSeedDir is where the generic preseed's early command copies
	// the seed's files in the installer, for a late_command to use.
	UbuntuSeedDir = "/tmp/mtprep-seed"
)

// Boot arguments of the Ubuntu entry, before d-i's "---". auto=true
// (auto-install/enable) defers the locale, keyboard and network
// questions until the preseed is loaded; priority=critical asks nothing
// the preseed leaves out that has a default. file= is preseed/file,
// read from the install medium (/cdrom).
const (
	UbuntuSharedBootArgs = "auto=true priority=critical file=/cdrom/" + UbuntuSharedPreseedPath
	UbuntuBootArgs       = "auto=true priority=critical file=/cdrom/" + UbuntuPreseedPath
)

// GenericPreseed is the preseed of shared Ubuntu media (see
// preseed/mtprep.seed): it loads the MT's preseed from the seed CD.
//
//go:embed preseed/mtprep.seed
var GenericPreseed string

// ubuntuDropArgs are the append words the mtprep entry does not clone:
// another preseed, and the automation switches it sets itself.
func ubuntuDropArg(a string) bool {
	for _, p := range []string{"file=", "preseed/file=", "url=", "preseed/url=", "auto=", "auto-install/enable=", "priority=", "debconf/priority=", "ks="} {
		if strings.HasPrefix(a, p) {
			return true
		}
	}
	return a == "auto"
}

// RewriteUbuntuBoot rewrites an Ubuntu server ISO's isolinux.cfg and
// txt.cfg (which isolinux.cfg reaches through menu.cfg) so the media
// boot unattended: txt.cfg gets a label "mtprep" cloned from the
// "install" entry (its kernel, initrd and append words) with args put
// first (UbuntuSharedBootArgs or UbuntuBootArgs) and the entry's own
// preseed (file=...) left out, first in the menu and its only "menu
// default"; isolinux.cfg's "ui gfxboot bootlogo" is commented out
// (gfxboot shows its language chooser and waits for a key), its
// "default vesamenu.c32" becomes "ui vesamenu.c32", its timeout (Ubuntu:
// 0, wait for ever) becomes timeout (DefaultTimeout when zero), and it
// ends with "default mtprep", which syslinux takes over txt.cfg's
// "default install" (the last default wins). An existing mtprep label is
// replaced: the rewrite is idempotent.
func RewriteUbuntuBoot(isolinuxCfg, txtCfg []byte, timeout time.Duration, args string) (newIsolinux, newTxt []byte, err error) {
	if strings.TrimSpace(args) == "" || strings.ContainsAny(args, "\r\n") {
		return nil, nil, fmt.Errorf("iso: boot arguments %q are not one line", args)
	}
	tenths, err := tenthsOf(timeout)
	if err != nil {
		return nil, nil, err
	}
	eol := "\n"
	if bytes.Contains(txtCfg, []byte("\r\n")) {
		eol = "\r\n"
	}
	lines, entries := parseCfg(txtCfg)
	src, err := ubuntuSourceEntry(lines, entries)
	if err != nil {
		return nil, nil, err
	}
	block := ubuntuBlock(lines, src, eol, args)

	var out bytes.Buffer
	emit := func(s string) { out.WriteString(s); out.WriteString(eol) }
	wroteBlock := false
	for _, l := range lines {
		switch {
		case l.entry >= 0 && strings.EqualFold(entries[l.entry].name, UbuntuLabel):
			continue
		case isMenuDefault(l):
			continue
		case l.key == "default":
			emit("default " + UbuntuLabel)
			continue
		case l.key == "ui" && isGfxboot(l):
			emit("# mtprep: gfxboot waits for a key: " + l.raw)
			continue
		case l.key == "label" && !wroteBlock:
			out.WriteString(block)
			wroteBlock = true
		}
		emit(l.raw)
	}
	if !wroteBlock {
		out.WriteString(block)
	}
	newTxt = out.Bytes()

	ieol := "\n"
	if bytes.Contains(isolinuxCfg, []byte("\r\n")) {
		ieol = "\r\n"
	}
	ilines, _ := parseCfg(isolinuxCfg)
	hasUI := false
	for _, l := range ilines {
		if l.key == "ui" && !isGfxboot(l) {
			hasUI = true
		}
	}
	out = bytes.Buffer{}
	iemit := func(s string) { out.WriteString(s); out.WriteString(ieol) }
	wroteTimeout := false
	for _, l := range ilines {
		switch {
		case l.key == "ui" && isGfxboot(l):
			iemit("# mtprep: gfxboot waits for a key: " + l.raw)
		case l.key == "default":
			// A menu module becomes the ui; a label default is
			// replaced by the final "default mtprep".
			if m := menuModule(l); m != "" && !hasUI {
				iemit("ui " + m)
				hasUI = true
			}
		case l.key == "timeout":
			if !wroteTimeout {
				iemit("timeout " + strconv.Itoa(tenths))
				wroteTimeout = true
			}
		case l.key == "ontimeout":
			iemit("ontimeout " + UbuntuLabel)
		default:
			iemit(l.raw)
		}
	}
	if !wroteTimeout {
		iemit("timeout " + strconv.Itoa(tenths))
	}
	iemit("default " + UbuntuLabel)
	return out.Bytes(), newTxt, nil
}

func isGfxboot(l cfgLine) bool {
	return len(l.fields) > 1 && strings.HasPrefix(strings.ToLower(l.fields[1]), "gfxboot")
}

func tenthsOf(timeout time.Duration) (int, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if timeout > maxTimeout {
		return 0, fmt.Errorf("iso: isolinux.cfg: timeout %s is longer than syslinux allows (%s)", timeout, maxTimeout)
	}
	return int((timeout + 100*time.Millisecond - 1) / (100 * time.Millisecond)), nil
}

// ubuntuSourceEntry is txt.cfg's "install" entry: the one its default
// names, else the label "install", else the first with /install/vmlinuz.
func ubuntuSourceEntry(lines []cfgLine, entries []cfgEntry) (*cfgEntry, error) {
	ok := func(e *cfgEntry) bool { return e.kernel >= 0 && !strings.EqualFold(e.name, UbuntuLabel) }
	def := ""
	for _, l := range lines {
		if l.key == "default" && len(l.fields) > 1 {
			def = l.fields[1]
		}
	}
	for _, name := range []string{def, "install"} {
		for i := range entries {
			if name != "" && strings.EqualFold(entries[i].name, name) && ok(&entries[i]) {
				return &entries[i], nil
			}
		}
	}
	for i := range entries {
		if ok(&entries[i]) && len(lines[entries[i].kernel].fields) > 1 && lines[entries[i].kernel].fields[1] == "/"+ubuntuKernelPath {
			return &entries[i], nil
		}
	}
	names := []string{}
	for _, e := range entries {
		names = append(names, strconv.Quote(e.name))
	}
	return nil, fmt.Errorf("iso: txt.cfg: no install entry with a kernel (default %q; labels %s): %w", def, strings.Join(names, ", "), ErrIsolinuxCfg)
}

// ubuntuBlock renders the mtprep entry: args, then the source's append
// words but its preseed and automation switches, with d-i's "---" (and
// what follows it: the installed system's arguments) kept last.
func ubuntuBlock(lines []cfgLine, src *cfgEntry, eol, args string) string {
	k := lines[src.kernel]
	indent := k.raw[:len(k.raw)-len(strings.TrimLeft(k.raw, " \t"))]
	if indent == "" {
		indent = "  "
	}
	var b strings.Builder
	w := func(s string) { b.WriteString(indent + s + eol) }
	b.WriteString("label " + UbuntuLabel + eol)
	w("menu label " + UbuntuMenuLabel)
	w("menu default")
	w(strings.ToLower(k.fields[0]) + " " + rest(k))
	if src.initrd >= 0 {
		w("initrd " + rest(lines[src.initrd]))
	}
	words := strings.Fields(args)
	tail := []string{}
	if src.appendLine >= 0 {
		in := lines[src.appendLine].fields[1:]
		for i, a := range in {
			if a == "---" || a == "--" {
				tail = in[i:]
				break
			}
			if !ubuntuDropArg(a) && a != "-" {
				words = append(words, a)
			}
		}
	}
	w("append " + strings.Join(append(words, tail...), " "))
	return b.String()
}

// cfgIncludes says whether a syslinux configuration includes a file
// named name (any directory).
func cfgIncludes(cfg []byte, name string) bool {
	lines, _ := parseCfg(cfg)
	for _, l := range lines {
		if l.key == "include" && len(l.fields) > 1 && path.Base(l.fields[1]) == name {
			return true
		}
	}
	return false
}

// RewriteUbuntuGrub rewrites the EFI boot menu (boot/grub/grub.cfg) like
// RewriteUbuntuBoot does isolinux's: a first menuentry "Install master
// target (mtprep preseed)" cloned from the first menuentry's linux and
// initrd lines with args, "set default=0" and "set timeout=<seconds>"
// before it; an older mtprep entry and older default/timeout settings
// are dropped.
func RewriteUbuntuGrub(cfg []byte, timeout time.Duration, args string) ([]byte, error) {
	tenths, err := tenthsOf(timeout)
	if err != nil {
		return nil, err
	}
	secs := (tenths + 9) / 10
	text := strings.ReplaceAll(string(cfg), "\r\n", "\n")
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	const title = `menuentry "Install master target (mtprep preseed)" {`
	var kept []string
	var linux, initrd string
	first, in, skip := -1, false, false
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case skip:
			if t == "}" {
				skip = false
			}
			continue
		case t == title:
			skip = true
			continue
		case strings.HasPrefix(t, "set default=") || strings.HasPrefix(t, "set timeout="):
			continue
		case strings.HasPrefix(t, "menuentry ") && first < 0:
			first, in = len(kept), true
		case in && t == "}":
			in = false
		case in && linux == "" && (strings.HasPrefix(t, "linux") && len(strings.Fields(t)) > 1):
			linux = t
		case in && initrd == "" && strings.HasPrefix(t, "initrd"):
			initrd = t
		}
		kept = append(kept, l)
	}
	if first < 0 || linux == "" {
		return nil, fmt.Errorf("iso: grub.cfg: no menuentry with a linux line to clone: %w", ErrIsolinuxCfg)
	}
	f := strings.Fields(linux)
	words := append([]string{f[0], f[1]}, strings.Fields(args)...)
	for i, a := range f[2:] {
		if a == "---" || a == "--" {
			words = append(words, f[2+i:]...)
			break
		}
		if !ubuntuDropArg(a) {
			words = append(words, a)
		}
	}
	entry := []string{"set default=0", "set timeout=" + strconv.Itoa(secs), title, "\tset gfxpayload=keep", "\t" + strings.Join(words, " ")}
	if initrd != "" {
		entry = append(entry, "\t"+initrd)
	}
	entry = append(entry, "}")
	out := append(append(append([]string{}, kept[:first]...), entry...), kept[first:]...)
	return []byte(strings.Join(out, "\n") + "\n"), nil
}

// updateMD5Sums rewrites md5sum.txt ("<md5>  ./<path>" lines, as
// debian-cd writes it) for the files the remaster changed or added,
// and leaves out those it dropped.
func updateMD5Sums(sums []byte, changed map[string][]byte, dropped map[string]bool) []byte {
	var out bytes.Buffer
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n") {
		_, p, ok := strings.Cut(line, "  ")
		rel := strings.TrimPrefix(p, "./")
		switch {
		case !ok:
			if line != "" {
				out.WriteString(line + "\n")
			}
		case dropped[rel]:
		case changed[rel] != nil:
			fmt.Fprintf(&out, "%s  ./%s\n", md5Hex(changed[rel]), rel)
			seen[rel] = true
		default:
			out.WriteString(line + "\n")
		}
	}
	names := make([]string, 0, len(changed))
	for p := range changed {
		if !seen[p] {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	for _, p := range names {
		fmt.Fprintf(&out, "%s  ./%s\n", md5Hex(changed[p]), p)
	}
	return out.Bytes()
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}
