package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"
)

// embedded is Toxiproxy running in this process: no binary, no HTTP.
type embedded struct {
	server *toxiproxy.ApiServer
}

var quietOnce sync.Once

func newEmbedded() *embedded {
	// The bandwidth toxic logs through zerolog's global logger; proxies log
	// through the server's. Both would flood a test run.
	quietOnce.Do(func() { zlog.Logger = zerolog.Nop() })
	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry()) // must not be nil
	return &embedded{server: toxiproxy.NewServer(metrics, zerolog.Nop())}
}

func (e *embedded) custom() bool { return toxics.New(&toxics.ToxicWrapper{Type: tapType}) != nil }

func (e *embedded) create(name, upstream string, initial []toxic) (handle, error) {
	p := toxiproxy.NewProxy(e.server, name, "127.0.0.1:0", upstream)
	if err := e.server.Collection.Add(p, false); err != nil {
		return nil, err
	}
	h := &embeddedProxy{collection: e.server.Collection, p: p}
	for _, t := range initial {
		if err := h.add(t); err != nil {
			_ = e.server.Collection.Remove(name)
			return nil, err
		}
	}
	if err := p.Start(); err != nil {
		_ = e.server.Collection.Remove(name)
		return nil, err
	}
	return h, nil
}

func (e *embedded) close() error { return e.server.Collection.Clear() }

type embeddedProxy struct {
	collection *toxiproxy.ProxyCollection
	p          *toxiproxy.Proxy
}

func (h *embeddedProxy) listen() string { return h.p.Listen }

func (h *embeddedProxy) add(t toxic) error {
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return bounded("add toxic "+t.Name, func() error {
		_, err := h.p.Toxics.AddToxicJson(bytes.NewReader(body))
		return err
	})
}

func (h *embeddedProxy) remove(name string) error {
	return bounded("remove toxic "+name, func() error {
		return h.p.Toxics.RemoveToxic(context.Background(), name)
	})
}

func (h *embeddedProxy) enable(on bool) error {
	return bounded("enable proxy", func() error {
		if on {
			if h.p.Enabled {
				return nil
			}
			return h.p.Start()
		}
		h.p.Stop()
		return nil
	})
}

func (h *embeddedProxy) delete() error {
	return bounded("delete proxy "+h.p.Name, func() error { return h.collection.Remove(h.p.Name) })
}
