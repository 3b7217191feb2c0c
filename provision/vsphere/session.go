package vsphere

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Config is what a session needs, in plain values: the caller fills it
// from its own configuration (provision from the spec).
type Config struct {
	URL      string // https://vcenter.example.com/sdk; may carry user:password@ as govc allows
	Username string
	// Password reveals the password; nil: none given (the URL's, if any).
	Password func() (string, error)
	// PasswordSource says where the password comes from, for a rejected
	// login's message ("env GOVC_PASSWORD"); "" means the URL.
	PasswordSource string
	Thumbprint     string // pinned certificate thumbprint, SHA-1 or SHA-256
	Insecure       bool

	Datacenter, Datastore, Network, Folder string
	Host, Cluster                          string // where a new VM goes

	Log *slog.Logger // nil: discarded

	// InputError makes the error for a problem with the configuration
	// value under key ("vsphere.datastore"), so the caller can point at
	// its own file and line; nil: a *ConfigError.
	InputError func(key, problem, fix string) error
}

func (c *Config) inputError(key, problem, fix string) error {
	if c.InputError != nil {
		return c.InputError(key, problem, fix)
	}
	return &ConfigError{Key: key, Problem: problem, Fix: fix}
}

// ConfigError is a problem with a configuration value, when
// Config.InputError is not set.
type ConfigError struct {
	Key, Problem, Fix string
}

func (e *ConfigError) Error() string {
	s := e.Key + ": " + e.Problem
	if e.Fix != "" {
		s += " (fix: " + e.Fix + ")"
	}
	return s
}

// Session is one logged-in vSphere session (like the Packer vSphere
// builder's driver): the client, the datacenter, and the inventory
// objects the Config names, each resolved once and only when needed.
type Session struct {
	// Client is the logged-in client.
	Client *vim25.Client
	// DC is the datacenter; nil for a session from Login.
	DC *object.Datacenter

	cfg    Config
	calls  *callCounter
	finder *find.Finder
	log    *slog.Logger

	inv       *Inventory
	placement *Placement
}

// NewSession wraps a client logged in elsewhere (a test's, or a caller's
// own login): no datacenter, no Config, round trips not counted.
func NewSession(c *vim25.Client) *Session {
	return &Session{Client: c, calls: &callCounter{calls: map[string]int64{}}, finder: find.NewFinder(c, false), log: slog.New(slog.DiscardHandler)}
}

// Log is the session's logger.
func (s *Session) Log() *slog.Logger { return s.log }

// Host is the vSphere endpoint's host (and port), as in its URL.
func (s *Session) Host() string { return s.Client.URL().Host }

// RoundTrips counts the HTTP requests of a session: every SOAP call and
// every datastore transfer. Fewer is better on a WAN link to vCenter.
type RoundTrips struct {
	HTTP  int64            `json:"http"`
	Calls map[string]int64 `json:"calls"` // SOAP calls by method name
	// UploadBytes is what PUT requests sent: datastore uploads.
	UploadBytes int64 `json:"uploadBytes"`
}

// SOAP is the number of SOAP calls.
func (r RoundTrips) SOAP() int64 {
	var n int64
	for _, v := range r.Calls {
		n += v
	}
	return n
}

// Sub is r minus an earlier snapshot.
func (r RoundTrips) Sub(before RoundTrips) RoundTrips {
	out := RoundTrips{HTTP: r.HTTP - before.HTTP, Calls: map[string]int64{}, UploadBytes: r.UploadBytes - before.UploadBytes}
	for k, v := range r.Calls {
		if d := v - before.Calls[k]; d != 0 {
			out.Calls[k] = d
		}
	}
	return out
}

// RoundTrips is what the session has sent so far.
func (s *Session) RoundTrips() RoundTrips { return s.calls.snapshot() }

type callCounter struct {
	mu    sync.Mutex
	http  int64
	up    int64
	calls map[string]int64
}

func (c *callCounter) snapshot() RoundTrips {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := RoundTrips{HTTP: c.http, UploadBytes: c.up, Calls: make(map[string]int64, len(c.calls))}
	for k, v := range c.calls {
		out.Calls[k] = v
	}
	return out
}

// countingTransport counts every HTTP request (an http.RoundTripper).
type countingTransport struct {
	next http.RoundTripper
	c    *callCounter
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.c.mu.Lock()
	t.c.http++
	if r.Method == http.MethodPut && r.ContentLength > 0 {
		t.c.up += r.ContentLength
	}
	t.c.mu.Unlock()
	return t.next.RoundTrip(r)
}

// countingSOAP names the SOAP methods (a soap.RoundTripper).
type countingSOAP struct {
	next soap.RoundTripper
	c    *callCounter
}

func (s countingSOAP) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	name := reflect.TypeOf(req).Elem().Name() // "RetrievePropertiesBody"
	s.c.mu.Lock()
	if s.c.calls == nil {
		s.c.calls = map[string]int64{}
	}
	s.c.calls[strings.TrimSuffix(name, "Body")]++
	s.c.mu.Unlock()
	return s.next.RoundTrip(ctx, req, res)
}

// Connect logs in, refuses a free ESXi, and resolves the datacenter.
func Connect(ctx context.Context, cfg Config) (*Session, error) {
	s, err := Login(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.checkLicense(ctx); err != nil {
		_ = session.NewManager(s.Client).Logout(ctx)
		return nil, err
	}
	dc, err := s.findDatacenter(ctx)
	if err != nil {
		_ = session.NewManager(s.Client).Logout(ctx)
		return nil, err
	}
	s.DC = dc
	s.finder.SetDatacenter(dc)
	return s, nil
}

// Logout ends the session, with a context of its own: the run's may be
// cancelled by now, and a session left open counts against vCenter's
// session limit until it times out.
func (s *Session) Logout() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.LogoutContext(ctx)
}

// LogoutContext ends the session within ctx.
func (s *Session) LogoutContext(ctx context.Context) error {
	return session.NewManager(s.Client).Logout(ctx)
}

// Login is Connect without the free-ESXi refusal and the datacenter: the
// audit reports a free edition as a finding rather than refusing to
// look, and reads the whole inventory, not one datacenter.
func Login(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.URL == "" {
		return nil, cfg.inputError("vsphere.url", "not set and GOVC_URL is empty", "set vsphere.url: https://vcenter.example.com/sdk (or export GOVC_URL)")
	}
	u, err := soap.ParseURL(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, cfg.inputError("vsphere.url", fmt.Sprintf("%q is not a URL", RedactURL(cfg.URL)), "write it as https://vcenter.example.com/sdk")
	}
	user, password := cfg.Username, ""
	if u.User != nil {
		// GOVC_URL may carry user:password@ as govc allows; never log it.
		if user == "" {
			user = u.User.Username()
		}
		password, _ = u.User.Password()
		u.User = nil
	}
	if cfg.Password != nil {
		if password, err = cfg.Password(); err != nil {
			return nil, err
		}
	}
	if user == "" {
		return nil, cfg.inputError("vsphere.username", "not set and GOVC_USERNAME is empty", "set vsphere.username (e.g. administrator@vsphere.local) or export GOVC_USERNAME")
	}
	if password == "" {
		return nil, cfg.inputError("vsphere.password", "no password given", "add `password: {env: GOVC_PASSWORD}` under vsphere, or export GOVC_PASSWORD")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	sc := soap.NewClient(u, cfg.Insecure)
	tr := sc.DefaultTransport()
	tr.DialTLSContext = dialTLS(cfg.Insecure, strings.ToUpper(cfg.Thumbprint))
	tr.TLSHandshakeTimeout = 30 * time.Second
	tr.ResponseHeaderTimeout = 10 * time.Minute // a datastore upload's PUT answers only at its end
	// Bigger buffers than net/http's 4 KiB: fewer, larger TLS records and
	// syscalls for the ISO upload (docs/perf-vsphere.md).
	tr.WriteBufferSize = 256 << 10
	tr.ReadBufferSize = 64 << 10
	calls := &callCounter{calls: map[string]int64{}}
	sc.Client.Transport = countingTransport{next: sc.Client.Transport, c: calls}

	where := u.Scheme + "://" + u.Host
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, connectError(ctx, &cfg, where, u, err)
	}
	vc.RoundTripper = countingSOAP{next: vc.RoundTripper, c: calls}
	if err := session.NewManager(vc).Login(ctx, url.UserPassword(user, password)); err != nil {
		if IsFault[*types.InvalidLogin](err) {
			src := cfg.PasswordSource
			if src == "" {
				src = "the URL"
			}
			return nil, cfg.inputError("vsphere.password", fmt.Sprintf("%s rejected the login of user %q (InvalidLogin)", where, user), "check vsphere.username and the password it reads from "+src)
		}
		return nil, fmt.Errorf("vSphere login at %s as %q: %s", where, user, FaultText(err))
	}
	s := &Session{Client: vc, cfg: cfg, calls: calls, finder: find.NewFinder(vc, false), log: log}
	log.Debug("vSphere session", "url", where, "user", user, "api", vc.ServiceContent.About.ApiType, "version", vc.ServiceContent.About.Version)
	return s, nil
}

// RedactURL is s without a password in it.
func RedactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}
