package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// Target is the broker under test, as every parallel process sees it.
type Target struct {
	Name     string // in reports: "embedded", "mosquitto", "127.0.0.1:1883"...
	URL      string // as given (credentials removed)
	Upstream proxy.Upstream
	Username string
	Password string
	// Embedded is set when the broker runs inside this test binary.
	Embedded bool
	// Defect names the faulty-broker defect in force (self-tests only).
	Defect string
}

// targetFromEnv builds the target from the environment. url is the broker
// URL to use (the embedded broker's, when it was started).
func targetFromEnv(url string) (Target, error) {
	up, err := proxy.ParseUpstream(url)
	if err != nil {
		return Target{}, fmt.Errorf("%s: %w", EnvBroker, err)
	}
	t := Target{URL: up.String(), Upstream: up, Username: os.Getenv(EnvUsername), Password: os.Getenv(EnvPassword)}
	if u := up.URL.User; u != nil { // credentials in the URL win
		t.Username = u.Username()
		if p, ok := u.Password(); ok {
			t.Password = p
		}
	}
	if up.Scheme() == "ssl" || up.Scheme() == "wss" {
		cfg, err := tlsFromEnv()
		if err != nil {
			return Target{}, err
		}
		t.Upstream.TLS = cfg
	}
	t.Name = env(EnvBrokerName, up.URL.Host)
	return t, nil
}

func tlsFromEnv() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := os.Getenv(EnvCAFile); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s=%s holds no PEM certificate", EnvCAFile, ca)
		}
		cfg.RootCAs = pool
	}
	cert, key := os.Getenv(EnvClientCert), os.Getenv(EnvClientKey)
	if cert != "" || key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", EnvClientCert, EnvClientKey, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// errSilentConnack is a probe's error when the broker took the connection
// and the CONNECT but sent nothing back: it serves, slowly or not at all
// (serving.go tells that from a broker that stopped serving).
var errSilentConnack = errors.New("no CONNACK came")

// Probe checks that the target speaks MQTT: a real CONNECT answered by a
// CONNACK that accepts it, within 10 seconds. The error is one line that
// names the cause.
func (t Target) Probe(ctx context.Context, clientID string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := t.Upstream.Dial(ctx)
	if err != nil {
		return fmt.Errorf("cannot connect: %v%s", err, tlsHint(err))
	}
	defer conn.Close()
	connect := wire.Connect(clientID, wire.KeepAlive(10), wire.Login(t.Username, t.Password))
	deadline := time.Now().Add(5 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	sent := time.Now()
	if _, err := conn.Write(wire.Encode(connect)); err != nil {
		return fmt.Errorf("connected, but sending CONNECT failed: %v", err)
	}
	b, err := wire.ReadPacket(conn, 1<<16)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("connected, but %w within %.1f s of CONNECT (is this an MQTT port?)", errSilentConnack, deadline.Sub(sent).Seconds())
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the broker closed the connection after CONNECT without sending CONNACK")
	case err != nil:
		return fmt.Errorf("connected, but reading CONNACK failed: %v%s", err, tlsHint(err))
	}
	p, err := wire.Decode(b, wire.V311)
	if err != nil || p.Type != wire.CONNACK {
		return fmt.Errorf("the broker answered CONNECT with %s instead of CONNACK", p)
	}
	if p.ReasonCode != 0 {
		hint := ""
		if p.ReasonCode == 4 || p.ReasonCode == 5 {
			hint = fmt.Sprintf(" (check %s/%s)", EnvUsername, EnvPassword)
		}
		return fmt.Errorf("the broker refused the connection: CONNACK return code 0x%02x %s%s",
			p.ReasonCode, wire.ReturnCodeText(wire.CONNACK, wire.V311, p.ReasonCode), hint)
	}
	_, _ = conn.Write(wire.Encode(wire.Disconnect()))
	return nil
}

// tlsHint names the setting to check when err is a TLS certificate
// problem: the broker's certificate not trusted, or a client certificate
// the broker wants.
func tlsHint(err error) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	remote := func(alert string) bool { return strings.Contains(err.Error(), "remote error: tls: "+alert) }
	switch {
	case errors.As(err, &unknown) && os.Getenv(EnvCAFile) == "":
		return fmt.Sprintf(" (%s is not set, so the system's CAs were used: set it to the CA that signed the broker's certificate)", EnvCAFile)
	case errors.As(err, &unknown):
		return fmt.Sprintf(" (%s=%s must hold the CA that signed the broker's certificate)", EnvCAFile, os.Getenv(EnvCAFile))
	case errors.As(err, &host):
		return " (the broker's certificate is not for the host name in the URL)"
	case (remote("certificate required") || remote("bad certificate")) && os.Getenv(EnvClientCert) == "":
		return fmt.Sprintf(" (the broker wants a client certificate: set %s and %s)", EnvClientCert, EnvClientKey)
	}
	return ""
}

// unusable is the one line a run ends with when the target cannot be used.
func unusable(url string, err error) string {
	return fmt.Sprintf("faultline: broker %s is not usable: %s", url, strings.TrimSpace(err.Error()))
}
