// Package audit owns mtprep's read-only audit of master targets: the
// check catalogue and its ids (a contract, documented in docs/AUDIT.md),
// the vSphere findings judged from provision/vsphere's one inventory
// retrieval, the guest findings judged from the OS's audit probe
// (guest.Probe, parsed by ParseProbe), the run that gathers both (Run:
// one vSphere retrieval per vCenter and account, the SSH probes in
// parallel up to Options.Concurrency, each bounded by Options.HostTimeout),
// and the reports: table, JSON and JUnit.
//
// It changes nothing on vSphere or on an MT. It reads the spec
// (provision/spec) and talks through provision/vsphere and provision/guest;
// it never imports the runner (provision) or an OS package: the caller
// maps each spec's os: to its OS (Options.OS), as cmd/mtprep does.
package audit
