package provision

// Phases is every phase of `mtprep build`, in order (DESIGN.md). Each lives
// in its own phase_<name>.go file.
func Phases() []Phase {
	return []Phase{
		isoPhase{},
		uploadPhase{},
		vmPhase{},
		enableUUIDPhase{},
		installPhase{},
		packagesPhase{},
		toolsPhase{}, // after packages: the bundle is on the MT; before agent, whose reboot shows Tools start at boot
		agentPhase{},
		retentionPhase{},
		handoffPhase{},
	}
}
