package provision

// Phases is every phase of `mtprep build`, in order (DESIGN.md). Each lives
// in its own phase_<name>.go file.
func Phases() []Phase {
	return []Phase{
		isoPhase{},
		// vSphere phases (upload, vm, enable-uuid, install) go here.
		packagesPhase{},
		agentPhase{},
		retentionPhase{},
		handoffPhase{},
	}
}
