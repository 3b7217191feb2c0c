package vsphere

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// dialTLS verifies the server as the Config asks: a pinned thumbprint
// (SHA-1 or SHA-256, as govc shows them) is checked on every connection,
// also with insecure set; otherwise the system roots, unless insecure.
// Unlike soap.Client's own dialer it honours the context, so a
// black-holed vCenter fails at the caller's deadline rather than the
// kernel's.
func dialTLS(insecure bool, thumbprint string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &tls.Dialer{
			NetDialer: &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
			Config:    &tls.Config{InsecureSkipVerify: insecure || thumbprint != ""}, //nolint:gosec // verified below, or insecure by the user's choice
		}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil || thumbprint == "" {
			return conn, err
		}
		cert := conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
		if thumbprint == soap.ThumbprintSHA256(cert) || thumbprint == soap.ThumbprintSHA1(cert) {
			return conn, nil
		}
		_ = conn.Close()
		return nil, &thumbprintMismatch{addr: addr, want: thumbprint, got: soap.ThumbprintSHA256(cert)}
	}
}

type thumbprintMismatch struct{ addr, want, got string }

func (e *thumbprintMismatch) Error() string {
	return fmt.Sprintf("the certificate of %s has thumbprint %s, not the pinned %s", e.addr, e.got, e.want)
}

// connectError says why the first SOAP call failed, in the user's terms.
func connectError(ctx context.Context, cfg *Config, where string, u *url.URL, err error) error {
	var tm *thumbprintMismatch
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &tm):
		return cfg.inputError("vsphere.thumbprint", tm.Error(), "check the vCenter certificate out of band (govc about.cert -k -thumbprint) and update the pin; a changed certificate can also mean someone is in between")
	case errors.As(err, &certErr) || soap.IsCertificateUntrusted(err) || errors.As(err, new(x509.UnknownAuthorityError)):
		tp := serverThumbprint(ctx, u.Host)
		fix := "pin the certificate with vsphere.thumbprint (check it out of band: govc about.cert -k -thumbprint), or set vsphere.insecure: true (or GOVC_INSECURE=1) on a trusted network"
		if tp != "" {
			fix = fmt.Sprintf("if %s is the thumbprint vCenter shows, pin it with `thumbprint: %s` under vsphere; or set vsphere.insecure: true (or GOVC_INSECURE=1) on a trusted network", tp, tp)
		}
		return cfg.inputError("vsphere.url", fmt.Sprintf("the TLS certificate of %s is not trusted (%s)", where, rootCause(err)), fix)
	case errors.As(err, &dnsErr):
		return cfg.inputError("vsphere.url", fmt.Sprintf("cannot resolve host %q (%s)", dnsErr.Name, dnsErr.Err), "check the host name in vsphere.url or GOVC_URL")
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("cannot reach vSphere at %s: %s (check vsphere.url, the port and firewalls)", where, rootCause(err))
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return fmt.Errorf("connecting to vSphere at %s: %w", where, err)
	}
	return cfg.inputError("vsphere.url", fmt.Sprintf("%s does not answer as a vSphere SDK endpoint (%s)", u.Redacted(), rootCause(err)), "point vsphere.url at vCenter or ESXi: https://host/sdk")
}

// serverThumbprint fetches the server's certificate without trusting it,
// only to show the user what to check and pin.
func serverThumbprint(ctx context.Context, host string) string {
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "443")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // only reads the certificate
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return ""
	}
	defer conn.Close()
	return soap.ThumbprintSHA256(conn.(*tls.Conn).ConnectionState().PeerCertificates[0])
}

func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// checkLicense refuses a free ESXi (vSphere Hypervisor) before anything is
// changed: its API is read-only (every change fails with RestrictedVersion)
// and ASR cannot fail back to it. Only a direct ESXi connection can be
// free: vCenter does not manage hosts with the free license.
func (s *Session) checkLicense(ctx context.Context) error {
	if s.Client.ServiceContent.About.ApiType != "HostAgent" || s.Client.ServiceContent.LicenseManager == nil {
		return nil
	}
	var lm mo.LicenseManager
	if err := s.RetrieveOne(ctx, *s.Client.ServiceContent.LicenseManager, []string{"licenses"}, &lm); err != nil {
		return fmt.Errorf("reading the ESXi license: %s", FaultText(err))
	}
	for _, l := range lm.Licenses {
		if IsFreeESXiLicense(l) {
			return fmt.Errorf("ESXi host %s runs the free edition (%q, edition %s): its API is read-only, so mtprep cannot create or change the MT, and ASR cannot fail back to a free ESXi host; assign a vSphere license (or evaluation mode) to the host, or connect through vCenter", s.Client.URL().Host, l.Name, l.EditionKey)
		}
	}
	return nil
}

// IsFreeESXiLicense reports whether a license is the free vSphere
// Hypervisor edition.
func IsFreeESXiLicense(l types.LicenseManagerLicenseInfo) bool {
	k := strings.ToLower(l.EditionKey)
	return k == "esxbasic" || strings.HasPrefix(k, "esxbasic.") || strings.Contains(k, "hypervisor") ||
		strings.Contains(strings.ToLower(l.Name), "hypervisor")
}
