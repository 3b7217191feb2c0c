package guest

// OS is everything the phases need to know of one MT operating system,
// made of small typed parts. A nil part means "not on this OS". cmd/mtprep
// maps each spec `os:` value to one OS explicitly; nothing registers
// itself.
type OS struct {
	// Name is the spec's os: value ("centos-6.6").
	Name string
	// Shell is how commands and scripts run on the MT.
	Shell Shell
}

// Lookup finds the OS of a spec's os: value; cmd/mtprep passes its map.
type Lookup func(name string) (*OS, bool)
