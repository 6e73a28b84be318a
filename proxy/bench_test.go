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
	broker, err := embedded.Start(embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Close()
	up, _ := proxy.ParseUpstream(broker.URL())
	srv, err := proxy.Start(proxy.Options{Upstream: up})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	l, err := srv.Link("bench")
	if err != nil {
		b.Fatal(err)
	}
	direct := benchClient(b, broker.Addr(), "direct")
	proxied := benchClient(b, l.Addr(), "proxied")
	for range 500 { // warm up both paths
		direct.roundTrip(b)
		proxied.roundTrip(b)
	}
	var d, p []time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(100, b.N-done)
		for range n {
			d = append(d, direct.roundTrip(b))
		}
		for range n {
			p = append(p, proxied.roundTrip(b))
		}
		done += n
	}
	b.StopTimer()
	dp50, dp99 := percentiles(d)
	pp50, pp99 := percentiles(p)
	b.ReportMetric(float64(dp50.Nanoseconds())/1e3, "direct-p50-µs")
	b.ReportMetric(float64(dp99.Nanoseconds())/1e3, "direct-p99-µs")
	b.ReportMetric(float64(pp50.Nanoseconds())/1e3, "proxied-p50-µs")
	b.ReportMetric(float64(pp99.Nanoseconds())/1e3, "proxied-p99-µs")
	b.ReportMetric(float64(pp50)/float64(dp50), "p50-ratio")
	b.ReportMetric(float64(pp99)/float64(dp99), "p99-ratio")
}

type rtClient struct {
	c   net.Conn
	id  uint16
	pub []byte
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
	broker, err := embedded.Start(embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Close()
	up, _ := proxy.ParseUpstream(broker.URL())
	srv, err := proxy.Start(proxy.Options{Upstream: up})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	l, err := srv.Link("bench")
	if err != nil {
		b.Fatal(err)
	}
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
	rt := func(c mqtt.Client) time.Duration {
		start := time.Now()
		t := c.Publish("bench/rtt", 1, false, "0123456789abcdef")
		if !t.WaitTimeout(5*time.Second) || t.Error() != nil {
			b.Fatalf("publish: %v", t.Error())
		}
		return time.Since(start)
	}
	for range 500 {
		rt(direct)
		rt(proxied)
		rt(stock)
	}
	var d, p, st []time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(100, b.N-done)
		for range n {
			d = append(d, rt(direct))
		}
		for range n {
			p = append(p, rt(proxied))
		}
		for range n {
			st = append(st, rt(stock))
		}
		done += n
	}
	b.StopTimer()
	dp50, dp99 := percentiles(d)
	pp50, pp99 := percentiles(p)
	sp50, _ := percentiles(st)
	b.ReportMetric(float64(sp50)/float64(dp50), "stock-toxiproxy-p50-ratio")
	b.ReportMetric(float64(dp50.Nanoseconds())/1e3, "direct-p50-µs")
	b.ReportMetric(float64(dp99.Nanoseconds())/1e3, "direct-p99-µs")
	b.ReportMetric(float64(pp50.Nanoseconds())/1e3, "proxied-p50-µs")
	b.ReportMetric(float64(pp99.Nanoseconds())/1e3, "proxied-p99-µs")
	b.ReportMetric(float64(pp50)/float64(dp50), "p50-ratio")
	b.ReportMetric(float64(pp99)/float64(dp99), "p99-ratio")
}

func pahoClient(b *testing.B, addr, id string) mqtt.Client {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(true))
	if t := c.Connect(); !t.WaitTimeout(5*time.Second) || t.Error() != nil {
		b.Fatalf("connect: %v", t.Error())
	}
	b.Cleanup(func() { c.Disconnect(0) })
	return c
}
