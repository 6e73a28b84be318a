package proxy

import (
	"fmt"
	"net/url"
	"strings"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// external is a Toxiproxy server reached through its HTTP API.
type external struct {
	client *toxiclient.Client
	url    string
}

func newExternal(rawURL string) (*external, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		if !strings.Contains(rawURL, "://") {
			u, err = url.Parse("http://" + rawURL)
		}
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("TOXIPROXY_URL=%q is not a URL like http://127.0.0.1:8474", rawURL)
		}
	}
	e := &external{client: toxiclient.NewClient(u.Host), url: rawURL}
	var version []byte
	if err := bounded("reach toxiproxy at "+rawURL, func() error {
		var err error
		version, err = e.client.Version()
		return err
	}); err != nil {
		return nil, err
	}
	if len(version) == 0 {
		return nil, fmt.Errorf("TOXIPROXY_URL=%q answered no version: is it a Toxiproxy server?", rawURL)
	}
	return e, nil
}

// custom is false: an external server does not have Faultline's toxics
// compiled in, so packet-level faults run in the gateway instead.
func (e *external) custom() bool { return false }

func (e *external) open(l *Link, initial []toxic) (handle, error) {
	g, err := startGateway(l)
	if err != nil {
		return nil, err
	}
	var p *toxiclient.Proxy
	err = bounded("create proxy "+l.id, func() error {
		var err error
		p, err = e.client.CreateProxy(l.id, "127.0.0.1:0", g.addr())
		return err
	})
	if err != nil {
		g.close()
		return nil, err
	}
	h := &externalProxy{p: p, g: g}
	// The HTTP API cannot create a proxy with its toxics in one step:
	// refuse connections, add them, let connections through, so no
	// connection slips past them.
	if len(initial) > 0 {
		if err := h.enable(false); err != nil {
			_ = h.delete()
			return nil, err
		}
		for _, t := range initial {
			if err := h.add(t); err != nil {
				_ = h.delete()
				return nil, err
			}
		}
		if err := h.enable(true); err != nil {
			_ = h.delete()
			return nil, err
		}
	}
	return h, nil
}

func (e *external) close() error { return nil }

type externalProxy struct {
	p *toxiclient.Proxy
	g *gateway
}

func (h *externalProxy) listen() string { return h.p.Listen }

func (h *externalProxy) add(t toxic) error {
	return bounded("add toxic "+t.Name, func() error {
		_, err := h.p.AddToxic(t.Name, t.Type, t.Stream, t.Toxicity, toxiclient.Attributes(t.Attributes))
		return err
	})
}

func (h *externalProxy) remove(name string) error {
	return bounded("remove toxic "+name, func() error { return h.p.RemoveToxic(name) })
}

// enable lets connections through the gateway again, or has it reset
// each new one; Toxiproxy's proxy, and its port, stay up.
func (h *externalProxy) enable(on bool) error {
	h.g.refuse(!on)
	return nil
}

func (h *externalProxy) delete() error {
	defer h.g.close()
	return bounded("delete proxy "+h.p.Name, func() error { return h.p.Delete() })
}
