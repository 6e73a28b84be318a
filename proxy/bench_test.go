package proxy_test

import (
	"net"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"slices"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/faultline-mqtt/faultline/fixtures/embedded"
	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// BenchmarkQoS1RoundTrip measures QoS 1 PUBLISH→PUBACK round trips on the
// embedded broker, straight to the broker and through a link (Toxiproxy
// with Faultline's MQTT toxic, and the gateway). The two paths alternate in
// blocks so both see the same machine. It reports the median and 99th
// percentile of each, and the ratio of the medians.
func BenchmarkQoS1RoundTrip(b *testing.B) {
	broker, l := benchLink(b)
	direct := benchClient(b, broker.Addr(), "direct")
	proxied := benchClient(b, l.Addr(), "proxied")
	d := alternate(b, func() time.Duration { return direct.roundTrip(b) }, func() time.Duration { return proxied.roundTrip(b) })
	reportRatio(b, d[0], d[1])
}

type rtClient struct {
	c  net.Conn
	id uint16
}

func benchClient(b *testing.B, addr, id string) *rtClient {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	c.(*net.TCPConn).SetNoDelay(true)
	c.Write(wire.Encode(wire.Packet{Header: wire.Header{Type: wire.CONNECT}, ProtocolName: "MQTT", ProtocolLevel: 4, CleanStart: true, KeepAlive: 60, ClientID: id}))
	if _, err := wire.ReadPacket(c, 1<<16); err != nil {
		b.Fatal(err)
	}
	return &rtClient{c: c}
}

func (r *rtClient) roundTrip(b *testing.B) time.Duration {
	r.id = r.id%60000 + 1
	pkt := wire.Encode(wire.Packet{Header: wire.Header{Type: wire.PUBLISH}, QoS: 1, PacketID: r.id, Topic: "bench/rtt", Payload: []byte("0123456789abcdef")})
	start := time.Now()
	if _, err := r.c.Write(pkt); err != nil {
		b.Fatal(err)
	}
	for {
		raw, err := wire.ReadPacket(r.c, 1<<16)
		if err != nil {
			b.Fatal(err)
		}
		if wire.Type(raw[0]>>4) == wire.PUBACK {
			return time.Since(start)
		}
	}
}

func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*99/100]
}

// BenchmarkPahoQoS1RoundTrip is the same comparison with the client the
// specs use (paho.mqtt.golang): Publish at QoS 1 and wait for its token.
func BenchmarkPahoQoS1RoundTrip(b *testing.B) {
	broker, l := benchLink(b)
	// The floor: a stock Toxiproxy proxy, no toxic at all, in the same
	// process (what any Toxiproxy-mediated link costs).
	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry())
	plain := toxiproxy.NewProxy(toxiproxy.NewServer(metrics, zerolog.Nop()), "plain", "127.0.0.1:0", broker.Addr())
	if err := plain.Start(); err != nil {
		b.Fatal(err)
	}
	defer plain.Stop()
	direct := pahoClient(b, broker.Addr(), "pdirect")
	proxied := pahoClient(b, l.Addr(), "pproxied")
	stock := pahoClient(b, plain.Listen, "pstock")
	rt := func(c mqtt.Client) func() time.Duration {
		return func() time.Duration {
			start := time.Now()
			t := c.Publish("bench/rtt", 1, false, "0123456789abcdef")
			if !t.WaitTimeout(5*time.Second) || t.Error() != nil {
				b.Fatalf("publish: %v", t.Error())
			}
			return time.Since(start)
		}
	}
	d := alternate(b, rt(direct), rt(proxied), rt(stock))
	reportRatio(b, d[0], d[1])
	sp50, _ := percentiles(d[2])
	dp50, _ := percentiles(d[0])
	b.ReportMetric(float64(sp50)/float64(dp50), "stock-toxiproxy-p50-ratio")
}

func pahoClient(b *testing.B, addr, id string) mqtt.Client {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(true))
	if t := c.Connect(); !t.WaitTimeout(5*time.Second) || t.Error() != nil {
		b.Fatalf("connect: %v", t.Error())
	}
	b.Cleanup(func() { c.Disconnect(0) })
	return c
}

// benchLink starts the embedded broker and a link to it, both stopped when
// the benchmark ends.
func benchLink(b *testing.B) (*embedded.Broker, *proxy.Link) {
	broker, err := embedded.Start(embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = broker.Close() })
	up, err := proxy.ParseUpstream(broker.URL())
	if err != nil {
		b.Fatal(err)
	}
	srv, err := proxy.Start(proxy.Options{Upstream: up})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	l, err := srv.Link("bench")
	if err != nil {
		b.Fatal(err)
	}
	return broker, l
}

// alternate warms each path up, then times b.N round trips on each, in
// alternating blocks of 100 so every path sees the same machine.
func alternate(b *testing.B, paths ...func() time.Duration) [][]time.Duration {
	for range 500 {
		for _, rt := range paths {
			rt()
		}
	}
	out := make([][]time.Duration, len(paths))
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(100, b.N-done)
		for i, rt := range paths {
			for range n {
				out[i] = append(out[i], rt())
			}
		}
		done += n
	}
	b.StopTimer()
	return out
}

// reportRatio reports the median and 99th percentile of the direct and
// the proxied round trips, and their ratios.
func reportRatio(b *testing.B, direct, proxied []time.Duration) {
	dp50, dp99 := percentiles(direct)
	pp50, pp99 := percentiles(proxied)
	b.ReportMetric(float64(dp50.Nanoseconds())/1e3, "direct-p50-µs")
	b.ReportMetric(float64(dp99.Nanoseconds())/1e3, "direct-p99-µs")
	b.ReportMetric(float64(pp50.Nanoseconds())/1e3, "proxied-p50-µs")
	b.ReportMetric(float64(pp99.Nanoseconds())/1e3, "proxied-p99-µs")
	b.ReportMetric(float64(pp50)/float64(dp50), "p50-ratio")
	b.ReportMetric(float64(pp99)/float64(dp99), "p99-ratio")
}
