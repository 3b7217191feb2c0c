// Package vsphere owns mtprep's vSphere session and thin typed helpers
// over govmomi, in the manner of govmomi's object package and the Packer
// vSphere plugin's driver layer: connect and log in (a pinned thumbprint
// or the system's CAs), count round trips, resolve the inventory and a
// new VM's placement, find, create and read VMs, devices and CD-ROMs,
// datastore stat, upload, move and read, tasks and their faults, Storage
// DRS pod configuration, ExtraConfig (guestinfo) writes, and the audit's
// one-call inventory retrieval.
//
// It decides nothing about what an MT should be: the phases in package
// provision do. It imports govmomi and the standard library only (and
// internal/progress), never provision, provision/spec or an OS package:
// a problem with a configuration value comes back through
// Config.InputError, so the caller can name its own file and line.
package vsphere
