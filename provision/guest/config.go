package guest

import (
	"log/slog"
	"time"

	"github.com/mtprep/mtprep/provision/spec"
)

// Config is how to reach one MT over SSH.
type Config struct {
	Address    string
	Port       int
	User       string
	PrivateKey string // path; a passphrase comes from KeyPassphrase
	KnownHosts string
	// HostKey is strict, accept-new, or a pinned SHA256:… fingerprint.
	HostKey string
	// KeyPassphrase unlocks a passphrase-protected PrivateKey; it is a
	// secret reference like every other.
	KeyPassphrase spec.Secret
	Env           spec.LookupEnv
	DialTimeout   time.Duration
	Log           *slog.Logger
	// Shell is how commands and scripts run on the MT's OS.
	Shell Shell
	// SFTPPacket and SFTPConcurrency tune uploads (zero: DefaultSFTPPacket,
	// DefaultSFTPConcurrency); for benchmarks.
	SFTPPacket, SFTPConcurrency int
}

// ConfigFor builds the SSH settings of the spec's MT, whose OS runs
// commands the way sh says.
func ConfigFor(s *spec.Spec, sh Shell, env spec.LookupEnv, log *slog.Logger) Config {
	return Config{
		Address: s.SSH.Address, Port: s.SSH.Port, User: s.SSH.User, PrivateKey: s.SSH.PrivateKey, Shell: sh,
		KeyPassphrase: s.SSH.KeyPassphrase, KnownHosts: s.SSH.KnownHosts, HostKey: s.SSH.HostKey, Env: env, Log: log,
	}
}
