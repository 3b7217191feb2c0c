// Package guest owns how mtprep talks to a master target's operating
// system: the SSH transport (one connection per MT, host keys checked
// strictly, accept-new or pinned, known_hosts, SFTP uploads checked by
// hash and resumed, reboots that wait for the new boot), and the OS
// interface (OS and its typed parts: VM profile, media, shell, release,
// packages, tools, agent, retention, registration, lock, audit probe) that
// the phases in package provision call. An OS package (centos, later
// windows and ubuntu) implements the parts; this package holds no command
// line of its own: every one comes from the OS's Shell.
package guest
