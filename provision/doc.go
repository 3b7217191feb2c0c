// Package provision owns what an MT is (the spec file), how it is loaded and
// validated, and the phases that build and check it: the runner, the vSphere
// and SSH clients below it, and fleet. The read-only audit is
// provision/audit.
package provision
