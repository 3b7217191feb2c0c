package lab

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ConfigServer is the lab's stand-in for the ASR configuration server: a
// TLS listener on port 443 of its own lab address, reachable from the
// guests, so that mtprep's connectivity check and the agent's registration
// talk to a real socket. It answers GET / and accepts registrations from the
// stand-in agent (POST /mtlab/register with the host name and the
// passphrase) and rejects a wrong passphrase. Tests stop and start it to
// break and mend connectivity.
type ConfigServer struct {
	IP   string
	Port int
	// CertPEM is the server's self-signed certificate.
	CertPEM []byte
	// Passphrase is what registrations must present; PassphraseFile holds
	// it (mode 0600) on the host.
	Passphrase     string
	PassphraseFile string

	log  *slog.Logger
	cert tls.Certificate

	mu   sync.Mutex
	srv  *http.Server
	regs []Registration
}

// Registration is one registration attempt the configuration server saw.
type Registration struct {
	Time       time.Time
	Hostname   string
	RemoteAddr string
	Accepted   bool
}

func newConfigServer(log *slog.Logger, ip string, passphrase string) (*ConfigServer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "mtlab configuration server", Organization: []string{"mtlab stand-in"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP(ip)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &ConfigServer{
		IP:         ip,
		Port:       443,
		CertPEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Passphrase: passphrase,
		log:        log,
		cert:       tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}, nil
}

// Addr is IP:port.
func (cs *ConfigServer) Addr() string { return net.JoinHostPort(cs.IP, strconv.Itoa(cs.Port)) }

// Start starts listening (again). Starting a running server does nothing.
func (cs *ConfigServer) Start() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", cs.Addr())
	if err != nil {
		return fmt.Errorf("configuration server: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "mtlab configuration server stand-in")
	})
	mux.HandleFunc("POST /mtlab/register", cs.register)
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cs.cert}},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cs.log.Handler(), slog.LevelDebug),
	}
	cs.srv = srv
	go srv.ServeTLS(ln, "", "")
	cs.log.Info("configuration server listening", "addr", cs.Addr())
	return nil
}

// Stop closes the listener and every connection; the guest then sees the
// port refuse connections.
func (cs *ConfigServer) Stop() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.srv == nil {
		return nil
	}
	err := cs.srv.Close()
	cs.srv = nil
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	cs.log.Info("configuration server stopped", "addr", cs.Addr())
	return err
}

// Registrations returns the registration attempts seen so far.
func (cs *ConfigServer) Registrations() []Registration {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]Registration(nil), cs.regs...)
}

func (cs *ConfigServer) register(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	got := strings.TrimSpace(r.PostForm.Get("passphrase"))
	ok := got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(cs.Passphrase)) == 1
	reg := Registration{Time: time.Now(), Hostname: r.PostForm.Get("hostname"), RemoteAddr: r.RemoteAddr, Accepted: ok}
	cs.mu.Lock()
	cs.regs = append(cs.regs, reg)
	cs.mu.Unlock()
	// Never log the passphrase, right or wrong.
	cs.log.Info("registration", "host", reg.Hostname, "from", reg.RemoteAddr, "accepted", ok)
	if !ok {
		http.Error(w, "passphrase rejected", http.StatusForbidden)
		return
	}
	fmt.Fprintln(w, "registered")
}

// waitListening waits until addr accepts TCP connections.
func waitListening(ctx context.Context, addr string) error {
	return waitFor(ctx, 20*time.Millisecond, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}
