package framework

import (
	"context"
	"strings"
	"testing"

	"github.com/faultline-mqtt/faultline/fixtures/embedded"
)

// A main target over TLS whose certificate the configured CA did not sign
// ends the run at once, with one line that names the URL and the
// certificate problem; the right CA gets through.
func TestProbeNamesAnUntrustedCertificate(t *testing.T) {
	b, err := embedded.Start(embedded.Options{Transports: &embedded.Transports{CertDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e, _ := b.Endpoints()
	t.Setenv(EnvClientCert, "")
	t.Setenv(EnvClientKey, "")
	probe := func(ca string) (Target, error) {
		t.Setenv(EnvCAFile, ca)
		tg, err := targetFromEnv(e.TLS)
		if err != nil {
			t.Fatal(err)
		}
		return tg, tg.Probe(context.Background(), "flprobetest")
	}

	tg, err := probe(e.Certs.UntrustedCA)
	if err == nil {
		t.Fatalf("the probe trusted %s with the wrong CA", e.TLS)
	}
	line := unusable(tg.URL, err)
	t.Log(line)
	for _, want := range []string{"faultline: broker " + e.TLS + " is not usable", "certificate signed by unknown authority", EnvCAFile} {
		if !strings.Contains(line, want) {
			t.Errorf("the line does not say %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "\n") {
		t.Errorf("more than one line:\n%s", line)
	}

	if _, err := probe(e.CAFile); err != nil {
		t.Errorf("the probe refused %s with the right CA: %v", e.TLS, err)
	}
}

// A main target that wants a client certificate the run does not have
// ends the run with a line that says so.
func TestProbeNamesAMissingClientCertificate(t *testing.T) {
	b, err := embedded.Start(embedded.Options{Transports: &embedded.Transports{CertDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e, _ := b.Endpoints()
	t.Setenv(EnvCAFile, e.CAFile)
	t.Setenv(EnvClientCert, "")
	t.Setenv(EnvClientKey, "")
	tg, err := targetFromEnv(e.MTLS)
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Probe(context.Background(), "flprobetest")
	if err == nil {
		t.Fatalf("the probe got through %s without a client certificate", e.MTLS)
	}
	line := unusable(tg.URL, err)
	t.Log(line)
	if !strings.Contains(line, "certificate") || !strings.Contains(line, EnvClientCert) {
		t.Errorf("the line does not name the missing client certificate:\n%s", line)
	}

	t.Setenv(EnvClientCert, e.ClientCert)
	t.Setenv(EnvClientKey, e.ClientKey)
	if tg, err = targetFromEnv(e.MTLS); err != nil {
		t.Fatal(err)
	}
	if err := tg.Probe(context.Background(), "flprobetest"); err != nil {
		t.Errorf("the probe refused %s with the client certificate: %v", e.MTLS, err)
	}
}

// Every endpoint of the embedded broker answers MQTT; the authenticating
// one refuses a wrong password.
func TestEmbeddedEndpoints(t *testing.T) {
	b, err := embedded.Start(embedded.Options{Transports: &embedded.Transports{CertDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e, _ := b.Endpoints()
	t.Setenv(EnvCAFile, e.CAFile)
	t.Setenv(EnvUsername, "")
	t.Setenv(EnvPassword, "")
	for _, c := range []struct {
		url, cert, key, user, pass string
		refused                    string
	}{
		{url: e.TLS}, {url: e.MTLS, cert: e.ClientCert, key: e.ClientKey}, {url: e.WS}, {url: e.WSS},
		{url: e.Auth, user: e.AuthUsername, pass: e.AuthPassword},
		{url: e.Auth, user: e.AuthUsername, pass: "wrong", refused: "return code 0x05"},
		{url: e.Auth, refused: "return code 0x05"},
	} {
		t.Setenv(EnvClientCert, c.cert)
		t.Setenv(EnvClientKey, c.key)
		t.Setenv(EnvUsername, c.user)
		t.Setenv(EnvPassword, c.pass)
		tg, err := targetFromEnv(c.url)
		if err != nil {
			t.Fatal(err)
		}
		err = tg.Probe(context.Background(), "flprobetest")
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%s (user %q): %v", c.url, c.user, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%s (user %q, password %q): want %q, got %v", c.url, c.user, c.pass, c.refused, err)
		}
	}
}
