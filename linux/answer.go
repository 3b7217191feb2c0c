package linux

import (
	"net/netip"
	"regexp"
)

// AnswerValues are the values both Linux answer files (CentOS 6.6's
// kickstart, Ubuntu 16.04's preseed) write, each checked the same way:
// a value that passes is one word that cannot start a line, a key or a
// shell command in either format.
type AnswerValues struct {
	Name, Hostname             string
	IP, Netmask, Gateway       string
	DNS                        []string
	OSDisk, Timezone, RootHash string
}

var (
	hostRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
	diskRe = regexp.MustCompile(`^(sd|vd|hd)[a-z]{1,2}$`)
	tzRe   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$`)
	hashRe = regexp.MustCompile(`^\$6\$(rounds=[0-9]{4,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$`)
	nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)
)

// Check calls bad for every value of v that may not be written; the OS
// checks what only its format has (the number of name servers, the
// interface name) itself.
func (v AnswerValues) Check(bad func(field, value, want string)) {
	if !nameRe.MatchString(v.Name) {
		bad("name", v.Name, "letters, digits, '.', '-', '_'")
	}
	if !hostRe.MatchString(v.Hostname) || len(v.Hostname) > 253 {
		bad("hostname", v.Hostname, "a lower-case fully qualified domain name")
	}
	for _, a := range append([]string{v.IP, v.Netmask, v.Gateway}, v.DNS...) {
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() || ip.String() != a {
			bad("address", a, "a dotted IPv4 address")
		}
	}
	if !diskRe.MatchString(v.OSDisk) {
		bad("OS disk", v.OSDisk, "a disk name such as sda")
	}
	if !tzRe.MatchString(v.Timezone) {
		bad("timezone", v.Timezone, "an IANA time zone name")
	}
	if !hashRe.MatchString(v.RootHash) {
		bad("root password hash", "(hidden)", "a SHA-512 crypt hash from HashPassword")
	}
}
