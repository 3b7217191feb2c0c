package linux

import (
	"strings"
	"testing"
)

// TestHashPassword was centos's and ubuntu's: both answer files carry it.
func TestHashPassword(t *testing.T) {
	a, err := HashPassword("password")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := HashPassword("password")
	if a == b {
		t.Error("two hashes of one password are equal: the salt is not fresh")
	}
	if !hashRe.MatchString(a) {
		t.Errorf("%q is not SHA-512 crypt", a)
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("empty password accepted")
	}
}

func TestAnswerValuesCheck(t *testing.T) {
	hash, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	good := AnswerValues{Name: "mt-01", Hostname: "mt01.dr.example.org", IP: "10.0.0.5", Netmask: "255.255.255.0",
		Gateway: "10.0.0.1", DNS: []string{"10.0.0.2"}, OSDisk: "sda", Timezone: "Europe/Berlin", RootHash: hash}
	tests := []struct {
		name string
		edit func(v *AnswerValues)
		want string // the field named; "" for none
	}{
		{"good", func(*AnswerValues) {}, ""},
		{"name with a space", func(v *AnswerValues) { v.Name = "mt 01" }, "name"},
		{"short host name", func(v *AnswerValues) { v.Hostname = "mt01" }, "hostname"},
		{"host name with a newline", func(v *AnswerValues) { v.Hostname = "mt01.example.org\nrootpw x" }, "hostname"},
		{"IPv6", func(v *AnswerValues) { v.IP = "fd00::5" }, "address"},
		{"leading zeros", func(v *AnswerValues) { v.Gateway = "10.0.0.01" }, "address"},
		{"bad DNS", func(v *AnswerValues) { v.DNS = []string{"10.0.0.2", "dns1"} }, "address"},
		{"partition, not disk", func(v *AnswerValues) { v.OSDisk = "sda1" }, "OS disk"},
		{"time zone with a quote", func(v *AnswerValues) { v.Timezone = "UTC'" }, "timezone"},
		{"MD5 hash", func(v *AnswerValues) { v.RootHash = "$1$salt$abc" }, "root password hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := good
			v.DNS = append([]string(nil), good.DNS...)
			tt.edit(&v)
			var fields []string
			v.Check(func(field, value, want string) {
				fields = append(fields, field)
				if field == "root password hash" && value != "(hidden)" {
					t.Errorf("the hash is shown: %q", value)
				}
			})
			got := strings.Join(fields, ",")
			if got != tt.want {
				t.Errorf("fields refused = %q, want %q", got, tt.want)
			}
		})
	}
}
