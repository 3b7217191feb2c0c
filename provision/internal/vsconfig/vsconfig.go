// Package vsconfig turns a spec's vsphere section into the vSphere
// session's configuration. It is the one place where provision/spec meets
// provision/vsphere (which must not import the spec): the runner
// (provision) and the audit (provision/audit) both log in with it.
package vsconfig

import (
	"log/slog"

	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// For is the session's configuration from the spec: its vsphere
// section, the password revealed only at login, and errors about a value
// that name the spec's file, line and key.
func For(s *spec.Spec, env spec.LookupEnv, log *slog.Logger) vsphere.Config {
	v := s.VSphere
	cfg := vsphere.Config{
		URL: v.URL, Username: v.Username, Thumbprint: v.Thumbprint, Insecure: v.Insecure,
		Datacenter: v.Datacenter, Datastore: v.Datastore, Network: v.Network, Folder: v.Folder,
		Host: v.Host, Cluster: v.Cluster,
		Log:        log,
		InputError: func(key, problem, fix string) error { return s.InputError(key, problem, fix) },
	}
	if v.Password.IsSet() {
		cfg.Password = func() (string, error) { return s.RevealSecret("vsphere.password", v.Password, env) }
		cfg.PasswordSource = v.Password.String()
	}
	return cfg
}
