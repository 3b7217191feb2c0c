package provision

import (
	"context"
	"log/slog"

	"github.com/mtprep/mtprep/provision/internal/vsconfig"
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
	s, err := vsphere.Connect(ctx, vsconfig.For(t.Spec, t.Env, log))
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
