package provision

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/spec"
)

// vsphereSession is the Target's one vSphere session (like the Packer
// vSphere builder's driver): a logged-in client, the datacenter and the
// inventory objects the spec names, each resolved once and only when a
// phase needs it.
type vsphereSession struct {
	c      *vim25.Client
	spec   *spec.Spec
	calls  *callCounter
	finder *find.Finder
	dc     *object.Datacenter
	log    *slog.Logger

	inv       *inventory
	placement *placement
}

// inventory is what one PropertyCollector call on the datacenter returns:
// its folders and every datastore and network it holds.
type inventory struct {
	vmFolder  *object.Folder
	datastore *object.Datastore
	network   object.NetworkReference
	netName   string
	folder    *object.Folder
	folderDsp string // the folder as the user sees it, for messages
	// dsNames names every datastore of the datacenter; dsPods maps the
	// ones in a datastore cluster to their StoragePod (vm_sdrs.go).
	dsNames map[types.ManagedObjectReference]string
	dsPods  map[types.ManagedObjectReference]types.ManagedObjectReference
}

// placement is where a new VM goes.
type placement struct {
	pool *object.ResourcePool
	host *object.HostSystem // nil: vCenter or DRS picks
}

// RoundTrips counts the HTTP requests of a Target's vSphere session: every
// SOAP call and every datastore transfer. Fewer is better on a WAN link to
// vCenter.
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

// ConnectVSphere opens the Target's vSphere session now rather than in the
// first phase that needs it (the benchmark separates the login's round
// trips from the phases').
func (t *Target) ConnectVSphere(ctx context.Context) error {
	_, err := t.vsphere(ctx)
	return err
}

// VSphereRoundTrips is what the Target's vSphere session has sent so far.
func (t *Target) VSphereRoundTrips() RoundTrips {
	if t.vs == nil {
		return RoundTrips{Calls: map[string]int64{}}
	}
	return t.vs.calls.snapshot()
}

// vsphere returns the Target's session, logging in on first use. Close
// logs it out.
func (t *Target) vsphere(ctx context.Context) (*vsphereSession, error) {
	if t.vs != nil {
		return t.vs, nil
	}
	log := t.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := connectVSphere(ctx, t.Spec, t.Env, log)
	if err != nil {
		return nil, err
	}
	t.vs = s
	t.OnClose(func() error {
		t.vs = nil
		// The run's context may be cancelled by now; a session left open
		// counts against vCenter's session limit until it times out.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return session.NewManager(s.c).Logout(ctx)
	})
	return s, nil
}

func connectVSphere(ctx context.Context, spec_ *spec.Spec, env spec.LookupEnv, log *slog.Logger) (*vsphereSession, error) {
	s, err := loginVSphere(ctx, spec_, env, log)
	if err != nil {
		return nil, err
	}
	if err := s.checkLicense(ctx); err != nil {
		_ = session.NewManager(s.c).Logout(ctx)
		return nil, err
	}
	dc, err := s.findDatacenter(ctx)
	if err != nil {
		_ = session.NewManager(s.c).Logout(ctx)
		return nil, err
	}
	s.dc = dc
	s.finder.SetDatacenter(dc)
	return s, nil
}

// loginVSphere is connectVSphere without the free-ESXi refusal and the
// datacenter: the audit reports a free edition as a finding rather than
// refusing to look, and reads the whole inventory, not one datacenter.
func loginVSphere(ctx context.Context, spec_ *spec.Spec, env spec.LookupEnv, log *slog.Logger) (*vsphereSession, error) {
	v := spec_.VSphere
	if v.URL == "" {
		return nil, spec_.InputError("vsphere.url", "not set and GOVC_URL is empty", "set vsphere.url: https://vcenter.example.com/sdk (or export GOVC_URL)")
	}
	u, err := soap.ParseURL(v.URL)
	if err != nil || u.Host == "" {
		return nil, spec_.InputError("vsphere.url", fmt.Sprintf("%q is not a URL", redactURL(v.URL)), "write it as https://vcenter.example.com/sdk")
	}
	user, password := v.Username, ""
	if u.User != nil {
		// GOVC_URL may carry user:password@ as govc allows; never log it.
		if user == "" {
			user = u.User.Username()
		}
		password, _ = u.User.Password()
		u.User = nil
	}
	if v.Password.IsSet() {
		password, err = spec_.RevealSecret("vsphere.password", v.Password, env)
		if err != nil {
			return nil, err
		}
	}
	if user == "" {
		return nil, spec_.InputError("vsphere.username", "not set and GOVC_USERNAME is empty", "set vsphere.username (e.g. administrator@vsphere.local) or export GOVC_USERNAME")
	}
	if password == "" {
		return nil, spec_.InputError("vsphere.password", "no password given", "add `password: {env: GOVC_PASSWORD}` under vsphere, or export GOVC_PASSWORD")
	}

	sc := soap.NewClient(u, v.Insecure)
	tr := sc.DefaultTransport()
	tr.DialTLSContext = dialTLS(v.Insecure, strings.ToUpper(v.Thumbprint))
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
		return nil, connectError(ctx, spec_, where, u, err)
	}
	vc.RoundTripper = countingSOAP{next: vc.RoundTripper, c: calls}
	if err := session.NewManager(vc).Login(ctx, url.UserPassword(user, password)); err != nil {
		if isFault[*types.InvalidLogin](err) {
			return nil, spec_.InputError("vsphere.password", fmt.Sprintf("%s rejected the login of user %q (InvalidLogin)", where, user), "check vsphere.username and the password it reads from "+passwordSource(v))
		}
		return nil, fmt.Errorf("vSphere login at %s as %q: %s", where, user, faultText(err))
	}
	s := &vsphereSession{c: vc, spec: spec_, calls: calls, finder: find.NewFinder(vc, false), log: log}
	log.Debug("vSphere session", "url", where, "user", user, "api", vc.ServiceContent.About.ApiType, "version", vc.ServiceContent.About.Version)
	return s, nil
}

func passwordSource(v spec.VSphere) string {
	if v.Password.IsSet() {
		return v.Password.String()
	}
	return "the URL"
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// dialTLS verifies the server as the spec asks: a pinned thumbprint (SHA-1
// or SHA-256, as govc shows them) is checked on every connection, also
// with insecure set; otherwise the system roots, unless insecure. Unlike
// soap.Client's own dialer it honours the context, so a black-holed
// vCenter fails at the caller's deadline rather than the kernel's.
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
func connectError(ctx context.Context, spec_ *spec.Spec, where string, u *url.URL, err error) error {
	var tm *thumbprintMismatch
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &tm):
		return spec_.InputError("vsphere.thumbprint", tm.Error(), "check the vCenter certificate out of band (govc about.cert -k -thumbprint) and update the pin; a changed certificate can also mean someone is in between")
	case errors.As(err, &certErr) || soap.IsCertificateUntrusted(err) || errors.As(err, new(x509.UnknownAuthorityError)):
		tp := serverThumbprint(ctx, u.Host)
		fix := "pin the certificate with vsphere.thumbprint (check it out of band: govc about.cert -k -thumbprint), or set vsphere.insecure: true (or GOVC_INSECURE=1) on a trusted network"
		if tp != "" {
			fix = fmt.Sprintf("if %s is the thumbprint vCenter shows, pin it with `thumbprint: %s` under vsphere; or set vsphere.insecure: true (or GOVC_INSECURE=1) on a trusted network", tp, tp)
		}
		return spec_.InputError("vsphere.url", fmt.Sprintf("the TLS certificate of %s is not trusted (%s)", where, rootCause(err)), fix)
	case errors.As(err, &dnsErr):
		return spec_.InputError("vsphere.url", fmt.Sprintf("cannot resolve host %q (%s)", dnsErr.Name, dnsErr.Err), "check the host name in vsphere.url or GOVC_URL")
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("cannot reach vSphere at %s: %s (check vsphere.url, the port and firewalls)", where, rootCause(err))
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return fmt.Errorf("connecting to vSphere at %s: %w", where, err)
	}
	return spec_.InputError("vsphere.url", fmt.Sprintf("%s does not answer as a vSphere SDK endpoint (%s)", u.Redacted(), rootCause(err)), "point vsphere.url at vCenter or ESXi: https://host/sdk")
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
func (s *vsphereSession) checkLicense(ctx context.Context) error {
	if s.c.ServiceContent.About.ApiType != "HostAgent" || s.c.ServiceContent.LicenseManager == nil {
		return nil
	}
	var lm mo.LicenseManager
	if err := s.retrieveOne(ctx, *s.c.ServiceContent.LicenseManager, []string{"licenses"}, &lm); err != nil {
		return fmt.Errorf("reading the ESXi license: %s", faultText(err))
	}
	for _, l := range lm.Licenses {
		if IsFreeESXiLicense(l) {
			return fmt.Errorf("ESXi host %s runs the free edition (%q, edition %s): its API is read-only, so mtprep cannot create or change the MT, and ASR cannot fail back to a free ESXi host; assign a vSphere license (or evaluation mode) to the host, or connect through vCenter", s.c.URL().Host, l.Name, l.EditionKey)
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

func (s *vsphereSession) findDatacenter(ctx context.Context) (*object.Datacenter, error) {
	name := s.spec.VSphere.Datacenter
	if name != "" && !strings.Contains(name, "/") {
		// A datacenter in the root folder: one SearchIndex call rather
		// than the finder's listing.
		ref, err := object.NewSearchIndex(s.c).FindByInventoryPath(ctx, "/"+name)
		if err == nil && ref != nil && ref.Reference().Type == "Datacenter" {
			dc := object.NewDatacenter(s.c, ref.Reference())
			dc.InventoryPath = "/" + name
			return dc, nil
		}
	}
	dc, err := s.finder.DatacenterOrDefault(ctx, name)
	if err == nil {
		return dc, nil
	}
	var nf *find.NotFoundError
	var dm *find.DefaultMultipleFoundError
	var dn *find.DefaultNotFoundError
	have := s.names(func() ([]string, error) {
		l, err := s.finder.DatacenterList(ctx, "*")
		out := make([]string, len(l))
		for i, d := range l {
			out[i] = d.Name()
		}
		return out, err
	})
	switch {
	case errors.As(err, &nf):
		return nil, s.spec.InputError("vsphere.datacenter", fmt.Sprintf("datacenter %q not found%s", name, have), "set vsphere.datacenter (or GOVC_DATACENTER) to one of them")
	case errors.As(err, &dm):
		return nil, s.spec.InputError("vsphere.datacenter", "not set and vSphere has several datacenters"+have, "set vsphere.datacenter (or GOVC_DATACENTER)")
	case errors.As(err, &dn):
		return nil, fmt.Errorf("vSphere at %s has no datacenter", s.c.URL().Host)
	}
	return nil, fmt.Errorf("finding datacenter %q: %s", name, faultText(err))
}

// names lists what exists, for a "not found" message; best effort.
func (s *vsphereSession) names(list func() ([]string, error)) string {
	l, err := list()
	if err != nil || len(l) == 0 {
		return ""
	}
	sort.Strings(l)
	if len(l) > 10 {
		l = append(l[:10], "…")
	}
	return " (found: " + strings.Join(l, ", ") + ")"
}

// inventory resolves the datastore, network and VM folder. Datastores and
// networks come from one PropertyCollector call that follows the
// datacenter's datastore and network lists, not one call per object.
func (s *vsphereSession) inventory(ctx context.Context) (*inventory, error) {
	if s.inv != nil {
		return s.inv, nil
	}
	v := s.spec.VSphere
	filter := types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{
			Obj: s.dc.Reference(),
			SelectSet: []types.BaseSelectionSpec{
				&types.TraversalSpec{Type: "Datacenter", Path: "datastore"},
				&types.TraversalSpec{Type: "Datacenter", Path: "network"},
			},
		}},
		PropSet: []types.PropertySpec{
			{Type: "Datacenter", PathSet: []string{"vmFolder"}},
			{Type: "Datastore", PathSet: []string{"name", "summary.accessible", "parent"}},
			{Type: "Network", PathSet: []string{"name"}},
			{Type: "DistributedVirtualPortgroup", PathSet: []string{"name"}},
			{Type: "OpaqueNetwork", PathSet: []string{"name"}},
		},
	}
	res, err := methods.RetrieveProperties(ctx, s.c, &types.RetrieveProperties{This: s.c.ServiceContent.PropertyCollector, SpecSet: []types.PropertyFilterSpec{filter}})
	if err != nil {
		return nil, fmt.Errorf("reading datacenter %s: %s", s.dc.Name(), faultText(err))
	}
	inv := &inventory{dsNames: map[types.ManagedObjectReference]string{}, dsPods: map[types.ManagedObjectReference]types.ManagedObjectReference{}}
	var dsNames, netNames []string
	var nets []types.ManagedObjectReference
	for _, oc := range res.Returnval {
		props := map[string]any{}
		for _, p := range oc.PropSet {
			props[p.Name] = p.Val
		}
		name, _ := props["name"].(string)
		switch oc.Obj.Type {
		case "Datacenter":
			if f, ok := props["vmFolder"].(types.ManagedObjectReference); ok {
				inv.vmFolder = object.NewFolder(s.c, f)
				inv.vmFolder.InventoryPath = s.dc.InventoryPath + "/vm"
			}
		case "Datastore":
			dsNames = append(dsNames, name)
			inv.dsNames[oc.Obj] = name
			if p, ok := props["parent"].(types.ManagedObjectReference); ok && p.Type == "StoragePod" {
				inv.dsPods[oc.Obj] = p
			}
			if name == v.Datastore {
				if ok, _ := props["summary.accessible"].(bool); !ok {
					return nil, s.spec.InputError("vsphere.datastore", fmt.Sprintf("datastore %q is not accessible", name), "check the datastore's connection in vCenter, or pick another")
				}
				ds := object.NewDatastore(s.c, oc.Obj)
				// Set the paths NewURL needs, so an upload does not
				// look them up again.
				ds.DatacenterPath = s.dc.InventoryPath
				ds.InventoryPath = path.Join(s.dc.InventoryPath, "datastore", name)
				inv.datastore = ds
			}
		default:
			netNames = append(netNames, name)
			if name == v.Network {
				nets = append(nets, oc.Obj)
			}
		}
	}
	if v.Datastore == "" {
		return nil, s.spec.InputError("vsphere.datastore", "not set and GOVC_DATASTORE is empty"+s.names(func() ([]string, error) { return dsNames, nil }), "set vsphere.datastore to the datastore for the MT's disks and ISO")
	}
	if inv.datastore == nil {
		return nil, s.spec.InputError("vsphere.datastore", fmt.Sprintf("datastore %q not found in datacenter %s%s", v.Datastore, s.dc.Name(), s.names(func() ([]string, error) { return dsNames, nil })), "set vsphere.datastore (or GOVC_DATASTORE) to one of them")
	}
	switch {
	case v.Network == "":
		return nil, s.spec.InputError("vsphere.network", "not set and GOVC_NETWORK is empty"+s.names(func() ([]string, error) { return netNames, nil }), "set vsphere.network to the MT's port group")
	case len(nets) == 0:
		return nil, s.spec.InputError("vsphere.network", fmt.Sprintf("network %q not found in datacenter %s%s", v.Network, s.dc.Name(), s.names(func() ([]string, error) { return netNames, nil })), "set vsphere.network (or GOVC_NETWORK) to one of them")
	case len(nets) > 1:
		return nil, s.spec.InputError("vsphere.network", fmt.Sprintf("%d networks are named %q in datacenter %s", len(nets), v.Network, s.dc.Name()), "rename one of the port groups; mtprep needs a unique name")
	}
	inv.netName = v.Network
	switch nets[0].Type {
	case "DistributedVirtualPortgroup":
		inv.network = object.NewDistributedVirtualPortgroup(s.c, nets[0])
	case "OpaqueNetwork":
		inv.network = object.NewOpaqueNetwork(s.c, nets[0])
	default:
		n := object.NewNetwork(s.c, nets[0])
		n.InventoryPath = v.Network // EthernetCardBackingInfo uses the name
		inv.network = n
	}
	if inv.vmFolder == nil {
		return nil, fmt.Errorf("datacenter %s has no VM folder", s.dc.Name())
	}
	inv.folder, inv.folderDsp = inv.vmFolder, inv.vmFolder.InventoryPath
	if f := v.Folder; f != "" {
		p := f
		if !strings.HasPrefix(p, "/") {
			p = s.dc.InventoryPath + "/vm/" + p
		}
		folder, err := s.finder.Folder(ctx, p)
		if err != nil {
			if isNotFound(err) {
				return nil, s.spec.InputError("vsphere.folder", fmt.Sprintf("VM folder %q not found", p), "create it (govc folder.create "+p+") or fix vsphere.folder")
			}
			return nil, fmt.Errorf("finding folder %s: %s", p, faultText(err))
		}
		inv.folder, inv.folderDsp = folder, p
	}
	s.inv = inv
	return inv, nil
}

func isNotFound(err error) bool {
	var nf *find.NotFoundError
	return errors.As(err, &nf)
}

// placementFor resolves where a new VM goes: the spec's host, else its
// cluster (DRS picks the host), else the datacenter's only resource pool.
// Only creation needs it.
func (s *vsphereSession) placementFor(ctx context.Context) (*placement, error) {
	if s.placement != nil {
		return s.placement, nil
	}
	v := s.spec.VSphere
	p := &placement{}
	switch {
	case v.Host != "":
		h, err := s.finder.HostSystem(ctx, v.Host)
		if err != nil {
			if isNotFound(err) {
				return nil, s.spec.InputError("vsphere.host", fmt.Sprintf("ESXi host %q not found in datacenter %s%s", v.Host, s.dc.Name(), s.names(func() ([]string, error) {
					l, err := s.finder.HostSystemList(ctx, "*")
					out := make([]string, len(l))
					for i, h := range l {
						out[i] = h.Name()
					}
					return out, err
				})), "set vsphere.host (or GOVC_HOST) to the host's name as vCenter shows it")
			}
			return nil, fmt.Errorf("finding host %s: %s", v.Host, faultText(err))
		}
		pool, err := h.ResourcePool(ctx)
		if err != nil {
			return nil, fmt.Errorf("resource pool of host %s: %s", v.Host, faultText(err))
		}
		p.host, p.pool = h, pool
	case v.Cluster != "":
		cl, err := s.findCluster(ctx, v.Cluster)
		if err != nil {
			if isNotFound(err) {
				return nil, s.spec.InputError("vsphere.cluster", fmt.Sprintf("cluster %q not found in datacenter %s", v.Cluster, s.dc.Name()), "set vsphere.cluster to the cluster's name as vCenter shows it")
			}
			return nil, fmt.Errorf("finding cluster %s: %s", v.Cluster, faultText(err))
		}
		pool, err := cl.ResourcePool(ctx)
		if err != nil {
			return nil, fmt.Errorf("resource pool of cluster %s: %s", v.Cluster, faultText(err))
		}
		p.pool = pool
	default:
		pool, err := s.finder.DefaultResourcePool(ctx)
		if err != nil {
			var dm *find.DefaultMultipleFoundError
			if errors.As(err, &dm) {
				return nil, s.spec.InputError("vsphere.host", fmt.Sprintf("neither vsphere.host nor vsphere.cluster is set and datacenter %s has several", s.dc.Name()), "set vsphere.cluster (or vsphere.host / GOVC_HOST) to where the MT should run")
			}
			return nil, fmt.Errorf("finding a resource pool in %s: %s", s.dc.Name(), faultText(err))
		}
		p.pool = pool
	}
	s.placement = p
	return p, nil
}

// findCluster tries the cluster directly under the datacenter's host
// folder with one SearchIndex call, then the finder's search.
func (s *vsphereSession) findCluster(ctx context.Context, name string) (*object.ClusterComputeResource, error) {
	ref, err := object.NewSearchIndex(s.c).FindByInventoryPath(ctx, s.dc.InventoryPath+"/host/"+name)
	if err == nil && ref != nil && ref.Reference().Type == "ClusterComputeResource" {
		cl := object.NewClusterComputeResource(s.c, ref.Reference())
		cl.InventoryPath = s.dc.InventoryPath + "/host/" + name
		return cl, nil
	}
	return s.finder.ClusterComputeResource(ctx, name)
}

func (s *vsphereSession) retrieveOne(ctx context.Context, ref types.ManagedObjectReference, props []string, dst any) error {
	res, err := methods.RetrieveProperties(ctx, s.c, &types.RetrieveProperties{
		This: s.c.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{
			ObjectSet: []types.ObjectSpec{{Obj: ref}},
			PropSet:   []types.PropertySpec{{Type: ref.Type, PathSet: props}},
		}},
	})
	if err != nil {
		return err
	}
	return mo.LoadObjectContent(res.Returnval, dst)
}

// task runs a vSphere task and waits for it. Its info is polled with one
// PropertyCollector call each time, with a growing interval: for the short
// tasks here that is fewer round trips than a WaitForUpdates filter
// (create, wait, destroy). A task fault becomes one line naming the
// operation, the object and the fault. onPoll, when set, runs between
// polls (the eject answers a locked-tray question there).
func (s *vsphereSession) task(ctx context.Context, op, obj string, start func() (*object.Task, error), onPoll func(context.Context) error) (*types.TaskInfo, error) {
	t, err := start()
	if err != nil {
		return nil, &VSphereError{Op: op, Object: obj, Err: err}
	}
	interval := 5 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s %s: %w (the vSphere task %s may still be running)", op, obj, ctx.Err(), t.Reference().Value)
		case <-time.After(interval):
		}
		var mt mo.Task
		if err := s.retrieveOne(ctx, t.Reference(), []string{"info"}, &mt); err != nil {
			return nil, &VSphereError{Op: op, Object: obj, Err: err}
		}
		switch mt.Info.State {
		case types.TaskInfoStateSuccess:
			return &mt.Info, nil
		case types.TaskInfoStateError:
			return nil, &VSphereError{Op: op, Object: obj, Fault: mt.Info.Error}
		}
		if onPoll != nil {
			if err := onPoll(ctx); err != nil {
				return nil, err
			}
		}
		interval = min(interval*2, time.Second)
	}
}

// VSphereError is a failed vSphere call or task, as one line: the
// operation, the object and the fault. The phase is added by PhaseError.
type VSphereError struct {
	Op, Object string
	Fault      *types.LocalizedMethodFault // a task's fault
	Err        error                       // a call's error (SOAP fault, network)
}

func (e *VSphereError) Error() string {
	var text string
	if e.Fault != nil {
		text = localizedFaultText(e.Fault)
	} else {
		text = faultText(e.Err)
	}
	return fmt.Sprintf("%s %s: %s", e.Op, e.Object, text)
}

func (e *VSphereError) Unwrap() error { return e.Err }

// MethodFault is the vSphere fault, if any.
func (e *VSphereError) MethodFault() types.BaseMethodFault {
	if e.Fault != nil {
		return e.Fault.Fault
	}
	var hf interface{ Fault() types.BaseMethodFault }
	if errors.As(e.Err, &hf) {
		return hf.Fault()
	}
	return nil
}

func faultName(f types.BaseMethodFault) string {
	if f == nil {
		return ""
	}
	t := reflect.TypeOf(f)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// faultText is a SOAP fault's message and type, or the error.
func faultText(err error) string {
	if err == nil {
		return ""
	}
	var hf interface{ Fault() types.BaseMethodFault }
	if !errors.As(err, &hf) {
		return err.Error()
	}
	msg := ""
	if soap.IsSoapFault(err) {
		msg = soap.ToSoapFault(err).String
	}
	return faultLine(msg, hf.Fault())
}

func localizedFaultText(f *types.LocalizedMethodFault) string {
	return faultLine(f.LocalizedMessage, f.Fault)
}

// faultLine is "message (FaultType)" plus what the fault means for an MT.
func faultLine(msg string, f types.BaseMethodFault) string {
	name := faultName(f)
	// vcsim puts the Go type ("*types.InvalidState") in the message.
	if strings.HasPrefix(msg, "*types.") || msg == name {
		msg = ""
	}
	if f != nil {
		if mf := f.GetMethodFault(); mf != nil {
			for _, m := range mf.FaultMessage {
				if m.Message != "" && !strings.Contains(msg, m.Message) {
					msg = strings.TrimSpace(msg + " " + m.Message)
				}
			}
		}
	}
	switch x := f.(type) {
	case *types.InvalidPowerState:
		msg = strings.TrimSpace(fmt.Sprintf("%s the VM is %s, the operation needs %s", msg, x.ExistingState, x.RequestedState))
	case *types.RestrictedVersion:
		msg = strings.TrimSpace(msg + " the ESXi host's license (the free edition) does not allow changes through the API; ASR failback needs a licensed host")
	case *types.FileAlreadyExists:
		msg = strings.TrimSpace(msg + " " + x.File)
	case *types.FileNotFound:
		msg = strings.TrimSpace(msg + " " + x.File)
	}
	switch {
	case name == "":
		return msg
	case msg == "":
		return name
	}
	return msg + " (" + name + ")"
}

// isFault reports whether err carries a vSphere fault of type F.
func isFault[F types.BaseMethodFault](err error) bool {
	var ve *VSphereError
	if errors.As(err, &ve) {
		_, ok := ve.MethodFault().(F)
		return ok
	}
	var hf interface{ Fault() types.BaseMethodFault }
	if errors.As(err, &hf) {
		_, ok := hf.Fault().(F)
		return ok
	}
	return false
}
