package guest

// Shell is the OS interface's part that says how commands run on an MT:
// quoting, elevation, how a script is fed, where uploads and state go, and
// how a reboot is issued and recognised. The transport (Conn) uses it for
// every command, so nothing above it writes a command line by hand.
type Shell interface {
	// Admin is the user that needs no elevation (root on Linux).
	Admin() string
	// Command is the command line that runs args as one command.
	Command(args []string, elevate bool) string
	// Script is the command line that runs script with args, and what to
	// send on stdin before the caller's own input.
	Script(script string, args []string, elevate bool) (line, stdinPrefix string)
	// WorkDir is where uploads go for user; home returns the user's SFTP
	// home directory and is called only when the answer depends on it.
	WorkDir(user string, home func() (string, error)) (string, error)
	// StateDir holds mtprep's markers on the MT (locks, run records).
	StateDir() string
	// Reboot returns the command lines that leave marker where the next
	// boot removes it, reboot without waiting, and succeed only on a boot
	// after the marked one.
	Reboot(marker string, elevate bool) (mark, reboot, newBoot string)
	// SHA256 is the command line that prints the sha256 of file's first n
	// bytes (all of it when n < 0) as its first word.
	SHA256(file string, n int64, elevate bool) string
}
