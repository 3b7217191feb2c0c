// Package provision is mtprep's runner: the phases that build a master
// target, each a read-only Check, an Apply and a Verify that reads back
// what Apply set; Plan (the checks only), Build, the fleet, the locks, the
// shared install media and the handoff manifest.
//
// Layers (docs/ARCHITECTURE.md; internal/layers checks the imports):
//
//	provision/spec     the spec file: load, validate, secrets, InputError
//	provision/vsphere  the vSphere session and thin typed helpers
//	provision/guest    the SSH transport and the OS interface (guest.OS)
//	provision/audit    the read-only audit: checks, findings, reports
//	centos, …          one OS each, behind guest.OS; never imported here
//
// Data flows one way: spec → plan → phases → handoff manifest. A Target is
// one MT in one run: its spec, its OS (mapped from spec.OS by cmd/mtprep),
// options, log, the facts phases record for later ones, one vSphere
// session and one SSH connection shared by every phase, and typed run
// state. Preflight refuses what ASR would not accept before any phase
// runs; vSphere phases go through provision/vsphere, guest phases through
// the MT's guest.OS parts, and ASR's OS-neutral rules (the retention
// refusals, the agent version rules) stay here.
package provision
