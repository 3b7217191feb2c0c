package main

import (
	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/ubuntu"
	"github.com/mtprep/mtprep/windows"
)

// lookupOS maps each spec os: value to its OS: the one place that knows
// them all (no registry, no init()).
func lookupOS(name string) (*guest.OS, bool) {
	switch name {
	case centos.Name:
		return centos.OS(), true
	case ubuntu.Name:
		return ubuntu.OS(), true
	case windows.Name:
		return windows.OS(), true
	}
	return nil, false
}

// osOf is the spec's OS, nil when mtprep has none for it (the spec's
// validation names the supported values first).
func osOf(s *spec.Spec) *guest.OS {
	o, _ := lookupOS(s.OS)
	return o
}

// mediaOf is the spec's OS's media part, nil when there is none.
func mediaOf(s *spec.Spec) guest.Media {
	if o := osOf(s); o != nil {
		return o.Media
	}
	return nil
}
