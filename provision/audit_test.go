package provision

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodProbe = `os CentOS release 6.6 (Final)
rpm xfsprogs 3.1.1-16.el6
rpm perl 5.10.1-136.el6
rpm lsscsi 0.23-3.el6
rpm rsync 3.0.6-12.el6
rpm wget 1.12-5.el6
rpm kexec-tools 2.0.0-280.el6
rpm kmod-reiserfs 0.0-1.el6.elrepo
rpm reiserfs-utils 3.6.21-1.el6.elrepo
rpm device-mapper-multipath 0.4.9-80.el6
multipathd running
acc_started 2026-11-23T10:00:00Z
acc_done 2026-11-23T10:00:05Z
ret_mount /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e ext4
ret_fstab /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e ext4
ret_df 1048576 1000000
nic 192.0.2.10
hosts 192.0.2.10
cs reachable
vx_version 9.3.0.0
`

const retUUID = "6000C298-9daa-4b1e-8d39-1f0e1b2c3d4e"

func TestGuestFindings(t *testing.T) {
	s, err := Parse("mt01.yaml", []byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		edit    func(string) string
		ac      AuditContext
		failIDs string // the exact set of FAIL ids, comma-separated
	}{
		{"all pass", nil, AuditContext{RetentionUUID: retUUID}, ""},
		{"package removed", func(p string) string { return strings.Replace(p, "rpm wget 1.12-5.el6\n", "", 1) }, AuditContext{RetentionUUID: retUUID}, "guest.packages"},
		{"package too old", func(p string) string { return strings.Replace(p, "xfsprogs 3.1.1-16.el6", "xfsprogs 3.1.1-14.el6", 1) }, AuditContext{RetentionUUID: retUUID}, "guest.packages"},
		{"multipathd stopped", func(p string) string { return strings.Replace(p, "multipathd running", "multipathd stopped", 1) }, AuditContext{RetentionUUID: retUUID}, "guest.multipathd"},
		{"retention unmounted", func(p string) string {
			return strings.Replace(strings.Replace(p, "ret_mount /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e ext4\n", "", 1), "ret_df 1048576 1000000\n", "", 1)
		}, AuditContext{RetentionUUID: retUUID}, "guest.retention.mounted"},
		{"cs unreachable", func(p string) string { return strings.Replace(p, "cs reachable", "cs unreachable", 1) }, AuditContext{RetentionUUID: retUUID}, "guest.configserver"},
		{"wrong disk mounted", nil, AuditContext{RetentionUUID: "6000C291-1111-2222-3333-444455556666"}, "guest.retention.wwid"},
		{"agent newer than cs", nil, AuditContext{RetentionUUID: retUUID, CSAgentVersion: "9.1.0.0"}, "guest.agent"},
		{"fat retention", func(p string) string { return strings.Replace(p, "3d4e ext4\nret_fstab", "3d4e vfat\nret_fstab", 1) }, AuditContext{RetentionUUID: retUUID}, "guest.retention.filesystem"},
		{"wrong os", func(p string) string { return strings.Replace(p, "6.6", "6.10", 1) }, AuditContext{RetentionUUID: retUUID}, "guest.os"},
		{"hosts missing", func(p string) string { return strings.Replace(p, "hosts 192.0.2.10\n", "", 1) }, AuditContext{RetentionUUID: retUUID}, "guest.hosts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			probe := goodProbe
			if c.edit != nil {
				probe = c.edit(probe)
			}
			fs := GuestFindings(s, ParseProbe(probe), c.ac)
			var fails []string
			for _, f := range fs {
				if f.Result == Fail {
					fails = append(fails, f.ID)
					if f.Fix == "" {
						t.Errorf("%s fails with no fix", f.ID)
					}
				}
			}
			if got := strings.Join(fails, ","); got != c.failIDs {
				t.Errorf("FAIL ids %q, want %q", got, c.failIDs)
			}
			if len(fs) != len(guestAuditIDs()) {
				t.Errorf("%d findings, want %d", len(fs), len(guestAuditIDs()))
			}
		})
	}
}

func TestReportsGolden(t *testing.T) {
	s, _ := Parse("mt01.yaml", []byte(validSpec))
	fs := GuestFindings(s, ParseProbe(strings.Replace(goodProbe, "cs reachable", "cs unreachable", 1)), AuditContext{})
	fs = append(fs, UnreachableFindings("mt02", errors.New("dial tcp 192.0.2.11:22: connect: no route to host"))[:3]...)
	for _, c := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"audit.txt", func(b *bytes.Buffer) error { return WriteTable(b, fs, false) }},
		{"audit.json", func(b *bytes.Buffer) error { return WriteJSON(b, fs) }},
		{"audit.junit.xml", func(b *bytes.Buffer) error { return WriteJUnit(b, fs) }},
	} {
		var b bytes.Buffer
		if err := c.write(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", c.file)
		if os.Getenv("UPDATE_GOLDEN") != "" {
			os.WriteFile(path, b.Bytes(), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs (UPDATE_GOLDEN=1 to rewrite):\n%s", c.file, b.String())
		}
	}
	var b bytes.Buffer
	WriteJUnit(&b, fs)
	var v any
	if err := xml.Unmarshal(b.Bytes(), &v); err != nil {
		t.Errorf("JUnit output is not XML: %v", err)
	}
	if !Failed(fs) {
		t.Error("Failed() missed a FAIL")
	}
}
