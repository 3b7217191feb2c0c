package vsphere

import (
	"fmt"
	"regexp"
	"strings"
)

var diskUUIDRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

// WWIDFromDiskUUID turns a vSphere virtual disk UUID into the WWID the
// guest sees with disk.EnableUUID=TRUE: multipath and udev show the NAA
// identifier with a leading 3, lower case, no dashes. 6000C298-9daa-…
// becomes 36000c2989daa…. An input that is not a UUID gives "".
func WWIDFromDiskUUID(uuid string) string {
	uuid = strings.TrimSpace(uuid)
	if !diskUUIDRe.MatchString(uuid) {
		return ""
	}
	return "3" + strings.ToLower(strings.ReplaceAll(uuid, "-", ""))
}

// DiskUUIDFromWWID is the reverse, for reports: 36000c29… → 6000C29…-….
func DiskUUIDFromWWID(wwid string) (string, error) {
	if len(wwid) != 33 || wwid[0] != '3' {
		return "", fmt.Errorf("wwid %q is not a 33-character NAA identifier starting with 3", wwid)
	}
	h := strings.ToUpper(wwid[1:9]) + "-" + wwid[9:13] + "-" + wwid[13:17] + "-" + wwid[17:21] + "-" + wwid[21:]
	if !diskUUIDRe.MatchString(h) {
		return "", fmt.Errorf("wwid %q is not hexadecimal", wwid)
	}
	return h, nil
}
