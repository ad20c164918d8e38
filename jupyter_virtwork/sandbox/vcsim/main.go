// Command vcsim serves a simulated vCenter (or ESXi) SOAP API for the jupyter_virtwork sandbox.
//
// Debian packages govmomi's simulator library but not its vcsim command, so the sandbox
// builds this small main package offline against /usr/share/gocode (GO111MODULE=off).
//
// Secrets never travel in argv (visible to every user through ps and /proc/<pid>/cmdline):
// the login comes from a 0600 JSON file named by -credentials, or from VCSIM_USERNAME and
// VCSIM_PASSWORD. The TLS key is generated in memory at each start and never written;
// only its self-signed certificate is exported (-cert-out) so clients can verify TLS.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator" // REST API (sessions, tags) beside SOAP
)

// options are the command-line flags; counts below zero keep the model's default.
type options struct {
	listen      string
	esx         bool
	credentials string
	certOut     string
	dc          int
	cluster     int
	clusterHost int
	host        int
	pool        int
	vm          int
	ds          int
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:8989", "address to serve https on")
	flag.BoolVar(&o.esx, "esx", false, "simulate a standalone ESXi host instead of vCenter")
	flag.StringVar(&o.credentials, "credentials", "",
		"0600 JSON file {\"username\":..,\"password\":..}; else VCSIM_USERNAME/VCSIM_PASSWORD")
	flag.StringVar(&o.certOut, "cert-out", "", "write the server's certificate (PEM) here")
	flag.IntVar(&o.dc, "dc", -1, "datacenters (vCenter mode)")
	flag.IntVar(&o.cluster, "cluster", -1, "clusters per datacenter")
	flag.IntVar(&o.clusterHost, "ch", -1, "hosts per cluster")
	flag.IntVar(&o.host, "host", -1, "standalone hosts per datacenter")
	flag.IntVar(&o.pool, "pool", -1, "resource pools per cluster")
	flag.IntVar(&o.vm, "vm", -1, "virtual machines per resource pool")
	flag.IntVar(&o.ds, "ds", -1, "datastores")
	flag.Parse()
	return o
}

// login is the one account the simulator accepts.
type login struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// readLogin refuses a credentials file others can read: its password would be theirs too.
func readLogin(path string) (login, error) {
	var l login
	if path == "" {
		l = login{os.Getenv("VCSIM_USERNAME"), os.Getenv("VCSIM_PASSWORD")}
	} else {
		info, err := os.Stat(path)
		if err != nil {
			return l, err
		}
		if info.Mode().Perm()&0o077 != 0 {
			return l, fmt.Errorf("%s is readable by others (mode %o); chmod 600 it", path, info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return l, err
		}
		if err := json.Unmarshal(data, &l); err != nil {
			return l, fmt.Errorf("%s: %v", path, err)
		}
	}
	if l.Username == "" || l.Password == "" {
		// An empty password would make the simulator accept any login.
		return l, errors.New("no username/password: use -credentials FILE or VCSIM_USERNAME/VCSIM_PASSWORD")
	}
	return l, nil
}

// setCount applies a flag only when given, so each mode keeps its own defaults.
func setCount(field *int, value int) {
	if value >= 0 {
		*field = value
	}
}

func newModel(o options) *simulator.Model {
	m := simulator.VPX()
	if o.esx {
		m = simulator.ESX()
	}
	for _, c := range []struct {
		field *int
		value int
	}{
		{&m.Datacenter, o.dc}, {&m.Cluster, o.cluster}, {&m.ClusterHost, o.clusterHost},
		{&m.Host, o.host}, {&m.Pool, o.pool}, {&m.Machine, o.vm}, {&m.Datastore, o.ds},
	} {
		setCount(c.field, c.value)
	}
	return m
}

// newCertificate makes a fresh self-signed P-256 certificate for the listen address.
// The simulator's built-in one is Go's public test certificate (1024-bit RSA, private key
// published in the Go source), so verifying it would prove nothing.
func newCertificate(listen string) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "jupyter-virtwork vcsim", Organization: []string{"jupyter-virtwork sandbox"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // self-signed trust anchor: clients pass it as their CA file
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if ip == nil && host != "" && host != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certPEM, nil
}

// writeAtomically replaces path in one rename, so a client never reads half a certificate.
func writeAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cert-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func run(o options) error {
	l, err := readLogin(o.credentials)
	if err != nil {
		return err
	}
	cert, certPEM, err := newCertificate(o.listen)
	if err != nil {
		return err
	}
	m := newModel(o)
	defer m.Remove() // datastore directories under TMPDIR
	if err := m.Create(); err != nil {
		return err
	}
	m.Service.Listen = &url.URL{Host: o.listen, User: url.UserPassword(l.Username, l.Password)}
	m.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	m.Service.RegisterEndpoints = true
	server := m.Service.NewServer()
	defer server.Close()
	// Written only once the server listens: the file's presence tells clients to connect.
	if o.certOut != "" {
		if err := writeAtomically(o.certOut, certPEM); err != nil {
			return err
		}
	}
	mode := map[bool]string{false: "vCenter", true: "ESXi"}[o.esx]
	// The URL without its user part: logs must never carry the login.
	log.Printf("%s simulator listening on https://%s/sdk", mode, server.URL.Host)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	log.Printf("stopping on %s", <-stop)
	return nil
}

func main() {
	if err := run(parseFlags()); err != nil {
		log.Fatalf("vcsim: %v", err)
	}
}
