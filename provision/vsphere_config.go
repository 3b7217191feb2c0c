package provision

import (
	"context"
	"log/slog"

	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// RoundTrips counts the HTTP requests of a Target's vSphere session
// (vsphere.RoundTrips).
type RoundTrips = vsphere.RoundTrips

// VSphereError is a failed vSphere call or task (vsphere.Error).
type VSphereError = vsphere.Error

// IsFreeESXiLicense reports whether a license is the free vSphere
// Hypervisor edition.
var IsFreeESXiLicense = vsphere.IsFreeESXiLicense

// vsphereConfig is the session's configuration from the spec: its
// vsphere section, the password revealed only at login, and errors about
// a value that name the spec's file, line and key.
func vsphereConfig(s *spec.Spec, env spec.LookupEnv, log *slog.Logger) vsphere.Config {
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

// ConnectVSphere opens the Target's vSphere session now rather than in the
// first phase that needs it (the benchmark separates the login's round
// trips from the phases').
func (t *Target) ConnectVSphere(ctx context.Context) error {
	_, err := t.vsphere(ctx)
	return err
}

// VSphereRoundTrips is what the Target's vSphere session has sent so far.
func (t *Target) VSphereRoundTrips() RoundTrips {
	if t.clients.vs == nil {
		return RoundTrips{Calls: map[string]int64{}}
	}
	return t.clients.vs.RoundTrips()
}

// vsphere returns the Target's session, logging in on first use. Close
// logs it out.
func (t *Target) vsphere(ctx context.Context) (*vsphere.Session, error) {
	if t.clients.vs != nil {
		return t.clients.vs, nil
	}
	log := t.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := vsphere.Connect(ctx, vsphereConfig(t.Spec, t.Env, log))
	if err != nil {
		return nil, err
	}
	t.clients.vs = s
	t.OnClose(func() error {
		t.clients.vs = nil
		// The run's context may be cancelled by now: Logout has a
		// context of its own.
		return s.Logout()
	})
	return s, nil
}
