package windows

import "github.com/mtprep/mtprep/provision/guest"

// Every part implements its interface.
var (
	_ guest.Shell        = Shell{}
	_ guest.Release      = Release{}
	_ guest.Tools        = Tools{}
	_ guest.Agent        = Agent{}
	_ guest.Retention    = Retention{}
	_ guest.Registration = Registration{}
	_ guest.Lock         = Lock{}
	_ guest.Probe        = Probe{}
	_ guest.Media        = Media{}
)
