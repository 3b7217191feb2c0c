package vsphere

import "testing"

func TestWWIDFromDiskUUID(t *testing.T) {
	cases := []struct{ uuid, wwid string }{
		{"6000C298-9daa-4b1e-8d39-1f0e1b2c3d4e", "36000c2989daa4b1e8d391f0e1b2c3d4e"},
		{"6000c2989daa4b1e8d391f0e1b2c3d4e", "36000c2989daa4b1e8d391f0e1b2c3d4e"},
		{" 6000C298-9DAA-4B1E-8D39-1F0E1B2C3D4E ", "36000c2989daa4b1e8d391f0e1b2c3d4e"},
		{"not-a-uuid", ""},
		{"6000C298-9daa-4b1e-8d39-1f0e1b2c3d4", ""},
		{"6000C298-9daa-4b1e-8d39-1f0e1b2c3d4e; rm -rf /", ""},
	}
	for _, c := range cases {
		if got := WWIDFromDiskUUID(c.uuid); got != c.wwid {
			t.Errorf("WWIDFromDiskUUID(%q) = %q, want %q", c.uuid, got, c.wwid)
		}
		if c.wwid != "" {
			back, err := DiskUUIDFromWWID(c.wwid)
			if err != nil || WWIDFromDiskUUID(back) != c.wwid {
				t.Errorf("round trip of %q: %q %v", c.wwid, back, err)
			}
		}
	}
}
