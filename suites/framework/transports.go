package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/fixtures/certs"
	"github.com/faultline-mqtt/faultline/fixtures/embedded"
	"github.com/faultline-mqtt/faultline/proxy"
)

// The broker's other transports. A run knows its main target (MQTT_BROKER)
// and, beside it, optional endpoints of the same broker: TLS, mutual TLS,
// ws, wss and one that checks credentials. A client on an endpoint still
// gets its own link: the link dials the endpoint over its transport (TLS
// and websockets end in the harness), so cuts, faults and traces see plain
// MQTT on every transport.

// endpointsInfo is what process 1 tells every process about the endpoints.
type endpointsInfo struct {
	URLs          map[string]string `json:"urls,omitempty"` // by variable: MQTT_BROKER_TLS → ssl://…
	CAFile        string            `json:"ca_file,omitempty"`
	ClientCert    string            `json:"client_cert,omitempty"`
	ClientKey     string            `json:"client_key,omitempty"`
	UntrustedCA   string            `json:"untrusted_ca,omitempty"` // a CA that signed none of the broker's certificates
	AuthUsername  string            `json:"auth_username,omitempty"`
	AuthPassword  string            `json:"auth_password,omitempty"`
	AuthAnonymous bool              `json:"auth_anonymous,omitempty"`
}

// endpointsFromEnv reads the endpoints of an external broker.
func endpointsFromEnv() endpointsInfo {
	e := endpointsInfo{URLs: map[string]string{}, CAFile: os.Getenv(EnvCAFile),
		ClientCert: os.Getenv(EnvClientCert), ClientKey: os.Getenv(EnvClientKey),
		AuthUsername: os.Getenv(EnvAuthUsername), AuthPassword: os.Getenv(EnvAuthPassword),
		AuthAnonymous: os.Getenv(EnvAuthAnonymous) == "1"}
	for _, k := range []string{EnvBrokerTLS, EnvBrokerMTLS, EnvBrokerWS, EnvBrokerWSS, EnvAuthBroker} {
		if v := os.Getenv(k); v != "" {
			e.URLs[k] = v
		}
	}
	if e.CAFile != "" { // the fixtures keep an untrusted CA next to the real one
		if u := filepath.Join(filepath.Dir(e.CAFile), certs.UntrustedCAFile); fileExists(u) {
			e.UntrustedCA = u
		}
	}
	return e
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// embeddedEndpoints are the embedded broker's own.
func embeddedEndpoints(b *embedded.Broker) endpointsInfo {
	e, ok := b.Endpoints()
	if !ok {
		return endpointsInfo{}
	}
	return endpointsInfo{
		URLs:   map[string]string{EnvBrokerTLS: e.TLS, EnvBrokerMTLS: e.MTLS, EnvBrokerWS: e.WS, EnvBrokerWSS: e.WSS, EnvAuthBroker: e.Auth},
		CAFile: e.CAFile, ClientCert: e.ClientCert, ClientKey: e.ClientKey, UntrustedCA: e.Certs.UntrustedCA,
		AuthUsername: e.AuthUsername, AuthPassword: e.AuthPassword,
	}
}

// Endpoint is one of the broker's endpoints beside the main target.
type Endpoint struct {
	name   string // in messages
	env    string // the variable that configures it
	scheme string // a main target of this scheme stands in when env is unset
	trust  trust
}

type trust int

const (
	asConfigured trust = iota // CA from MQTT_CA_FILE; the client certificate on the mutual-TLS endpoint
	untrusting                // the client trusts only a CA that signed none of the broker's certificates
	noClientCert              // no client certificate, even on the mutual-TLS endpoint
)

// The endpoints a spec can ask for.
var (
	// TLSEndpoint (MQTT_BROKER_TLS) checks the broker's certificate against
	// MQTT_CA_FILE and sends no client certificate. A main target with
	// ssl:// (and no client certificate) stands in when it is unset.
	TLSEndpoint = Endpoint{name: "TLS", env: EnvBrokerTLS, scheme: "ssl"}
	// MutualTLSEndpoint (MQTT_BROKER_MTLS) also presents the client
	// certificate MQTT_CLIENT_CERT/MQTT_CLIENT_KEY.
	MutualTLSEndpoint = Endpoint{name: "mutual-TLS", env: EnvBrokerMTLS}
	// WSEndpoint (MQTT_BROKER_WS) and WSSEndpoint (MQTT_BROKER_WSS): MQTT
	// over websockets; a ws:// or wss:// main target stands in.
	WSEndpoint  = Endpoint{name: "websocket", env: EnvBrokerWS, scheme: "ws"}
	WSSEndpoint = Endpoint{name: "secure websocket", env: EnvBrokerWSS, scheme: "wss"}
	// AuthEndpoint (MQTT_AUTH_BROKER) accepts MQTT_AUTH_USERNAME and
	// MQTT_AUTH_PASSWORD only: clients on it send them unless told
	// otherwise (Credentials, Anonymous).
	AuthEndpoint = Endpoint{name: "authenticating", env: EnvAuthBroker}
)

// Untrusting is the endpoint seen by a client that trusts only a CA that
// signed none of the broker's certificates (the fixtures' untrusted CA, or
// none at all).
func (e Endpoint) Untrusting() Endpoint { e.trust = untrusting; return e }

// WithoutClientCertificate is the endpoint seen by a client that presents
// no client certificate.
func (e Endpoint) WithoutClientCertificate() Endpoint { e.trust = noClientCert; return e }

// String names the endpoint and its variable.
func (e Endpoint) String() string {
	s := e.name + " endpoint (" + e.env + ")"
	switch e.trust {
	case untrusting:
		s += ", trusting another CA"
	case noClientCert:
		s += ", without a client certificate"
	}
	return s
}

// AuthAllowsAnonymous says whether the authenticating endpoint is declared
// to let clients without credentials in (MQTT_AUTH_ANONYMOUS=1), as some
// brokers' authentication settings are broker-wide.
func AuthAllowsAnonymous() bool { return current.endpoints.AuthAnonymous }

// Credentials are the user name and password clients send on the
// endpoint: MQTT_AUTH_USERNAME/MQTT_AUTH_PASSWORD on the authenticating
// one, the run's (MQTT_USERNAME/MQTT_PASSWORD) elsewhere.
func (e Endpoint) Credentials() (username, password string) {
	r, _ := current.resolve(e)
	return r.username, r.password
}

// resolved is an endpoint ready to dial.
type resolved struct {
	key                string // its link server
	up                 proxy.Upstream
	username, password string
}

// resolve finds how to reach e; the string says why it cannot be reached
// (the endpoint is not configured), for Unsupported.
func (r *run) resolve(e Endpoint) (resolved, string) {
	info := r.endpoints
	raw := info.URLs[e.env]
	if raw == "" && e.scheme != "" && r.Target.Upstream.Scheme() == e.scheme &&
		(e.scheme != "ssl" || os.Getenv(EnvClientCert) == "") {
		raw = r.Target.Upstream.URL.String()
	}
	if raw == "" {
		return resolved{}, fmt.Sprintf("no %s endpoint configured (set %s)", e.name, e.env)
	}
	up, err := proxy.ParseUpstream(raw)
	if err != nil {
		return resolved{}, fmt.Sprintf("%s: %v", e.env, err)
	}
	out := resolved{key: fmt.Sprintf("%s/%d", e.env, e.trust), up: up, username: r.Target.Username, password: r.Target.Password}
	if e.env == EnvAuthBroker {
		if info.AuthUsername == "" {
			return resolved{}, fmt.Sprintf("no credentials for the %s endpoint (set %s and %s)", e.name, EnvAuthUsername, EnvAuthPassword)
		}
		out.username, out.password = info.AuthUsername, info.AuthPassword
	}
	if u := up.URL.User; u != nil { // credentials in the URL win
		out.username = u.Username()
		out.password, _ = u.Password()
	}
	secure := up.Scheme() == "ssl" || up.Scheme() == "wss"
	if !secure {
		if e.trust != asConfigured || e.env == EnvBrokerMTLS {
			return resolved{}, fmt.Sprintf("%s=%s is not a TLS endpoint", e.env, up)
		}
		return out, ""
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var err2 error
	switch e.trust {
	case untrusting:
		cfg.RootCAs = x509.NewCertPool() // trusts nothing, unless the fixtures' untrusted CA is there
		if info.UntrustedCA != "" {
			cfg.RootCAs, err2 = loadPool(info.UntrustedCA)
		}
	default:
		if info.CAFile != "" {
			cfg.RootCAs, err2 = loadPool(info.CAFile)
		}
	}
	if err2 != nil {
		return resolved{}, err2.Error()
	}
	if e.env == EnvBrokerMTLS && e.trust == asConfigured {
		if info.ClientCert == "" || info.ClientKey == "" {
			return resolved{}, fmt.Sprintf("no client certificate configured for the %s endpoint (set %s and %s)", e.name, EnvClientCert, EnvClientKey)
		}
		pair, err := tls.LoadX509KeyPair(info.ClientCert, info.ClientKey)
		if err != nil {
			return resolved{}, fmt.Sprintf("%s/%s: %v", EnvClientCert, EnvClientKey, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	out.up.TLS = cfg
	return out, ""
}

func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// server returns the process's link server for an endpoint, made on
// first use; closeServers closes them all when the suite ends.
func (r *run) server(res resolved) (*proxy.Server, error) {
	r.smu.Lock()
	defer r.smu.Unlock()
	if s := r.servers[res.key]; s != nil {
		return s, nil
	}
	s, err := proxy.Start(proxy.Options{Upstream: res.up, ToxiproxyURL: os.Getenv(EnvToxiproxy)})
	if err != nil {
		return nil, err
	}
	r.servers[res.key] = s
	return s, nil
}

func (r *run) closeServers() {
	r.smu.Lock()
	defer r.smu.Unlock()
	for k, s := range r.servers {
		_ = s.Close()
		delete(r.servers, k)
	}
}

// endpoint resolves e, or ends the spec as not supported when the run has
// no such endpoint.
func endpoint(e Endpoint) resolved {
	ginkgo.GinkgoHelper()
	res, why := current.resolve(e)
	if why != "" {
		Unsupported(why)
	}
	return res
}

// LinkVia creates a link of the spec's own to endpoint e.
func (f *Framework) LinkVia(e Endpoint, name string) *proxy.Link {
	ginkgo.GinkgoHelper()
	return f.linkVia(endpoint(e), name)
}

func (f *Framework) linkVia(res resolved, name string) *proxy.Link {
	ginkgo.GinkgoHelper()
	s, err := current.server(res)
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("cannot create a link for %s to %s: %v", name, res.up, err))
	}
	l, err := s.Link(name)
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("cannot create a link for %s to %s: %v", name, res.up, err))
	}
	f.links = append(f.links, l)
	fmt.Fprintf(ginkgo.GinkgoWriter, "%s: link %s leads to %s\n", name, l.Addr(), res.up)
	return l
}

// NewClientVia makes a client whose link leads to endpoint e, without
// connecting it. On the authenticating endpoint it sends that endpoint's
// credentials unless opts say otherwise.
func (f *Framework) NewClientVia(e Endpoint, name string, opts ...ClientOption) *Client {
	ginkgo.GinkgoHelper()
	res := endpoint(e)
	opts = append([]ClientOption{Credentials(res.username, res.password)}, opts...)
	return f.newClientOn(f.linkVia(res, name), name, opts...)
}

// ClientVia makes a client on a link to endpoint e and connects it.
func (f *Framework) ClientVia(ctx context.Context, e Endpoint, name string, opts ...ClientOption) *Client {
	ginkgo.GinkgoHelper()
	c := f.NewClientVia(e, name, opts...)
	if err := c.Connect(ctx); err != nil {
		ginkgo.Fail(fmt.Sprintf("%v (over the %s)", err, e))
	}
	return c
}

// SubscriberVia is Subscriber on endpoint e.
func (f *Framework) SubscriberVia(ctx context.Context, e Endpoint, name, filter string, qos byte, opts ...ClientOption) *Client {
	ginkgo.GinkgoHelper()
	c := f.ClientVia(ctx, e, name, opts...)
	granted, err := c.Subscribe(ctx, filter, qos)
	if err != nil {
		ginkgo.Fail(err.Error())
	}
	if granted != qos {
		Unsupported(fmt.Sprintf("the broker granted QoS %d (SUBACK code 0x%02x) for a QoS %d subscription to %s", min(granted, 3), granted, qos, filter))
	}
	return c
}

// RawVia opens a raw MQTT connection through a new link to endpoint e.
// The link's TCP connection opens at once; the link dials the broker (TCP,
// TLS and websocket handshakes) as it does, so a refused handshake shows
// as the connection closing and as an event in the link's trace.
func (f *Framework) RawVia(ctx context.Context, e Endpoint, name string) *Raw {
	ginkgo.GinkgoHelper()
	return f.rawOn(ctx, f.LinkVia(e, name), name)
}

// Events are the notes of a link's trace about its connections (opened,
// closed, refused, why), oldest first.
func Events(l *proxy.Link) []string {
	var out []string
	for _, e := range l.Trace().Entries() {
		if e.Kind == proxy.Event {
			out = append(out, e.Note)
		}
	}
	return out
}

// Unavailable says why the run cannot reach endpoint e ("" when it can).
func (e Endpoint) Unavailable() string {
	_, why := current.resolve(e)
	return why
}
