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
		agentPhase{},
		retentionPhase{},
		handoffPhase{},
	}
}
