// Package measure holds measurements, not promises: what the broker's
// traffic costs, shown in the HTML report (they fail only when the
// measurement cannot be made).
package measure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/reports"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// messages is how many messages each way of sending is measured over.
const messages = 20

// The transports measured: the main target's (tcp unless MQTT_BROKER says
// otherwise) and the broker's TLS and websocket endpoints.
var transports = []*Endpoint{nil, &TLSEndpoint, &WSEndpoint, &WSSEndpoint}

var _ = Describe("Wire cost", Label("measure"), func() {
	f := New()

	It("measures the bytes and packets one small message costs on the wire, by QoS and transport, against an HTTP POST of the same payload", func(ctx SpecContext) {
		// The topics all have this shape; the spec's unique root makes them
		// longer than real ones.
		cost := reports.WireCost{Payload: 4, Messages: messages, Topic: f.Topic("sensors/00/temperature/C")}
		seen := map[string]bool{}
		for n, e := range transports {
			if e != nil {
				if why := e.Unavailable(); why != "" {
					cost.Unmeasured = append(cost.Unmeasured, why)
					continue
				}
			}
			for qos := byte(0); qos <= 2; qos++ {
				row := mqttCost(ctx, f, e, f.Topic(fmt.Sprintf("sensors/%d%d/temperature/C", n, qos)), qos)
				if seen[row.Name] {
					break // an endpoint that is the main target again
				}
				seen[row.Name] = true
				cost.Rows = append(cost.Rows, row)
			}
		}
		for _, secure := range []bool{false, true} {
			bytes, msgs := httpPosts(ctx, secure, "/"+cost.Topic, "21.5", messages)
			name := "HTTP/1.1 POST"
			if secure {
				name = "HTTP/1.1 POST over TLS"
			}
			cost.Rows = append(cost.Rows, reports.WireCostRow{Name: name, Unit: "HTTP messages",
				SendBytes: bytes / messages, SendPackets: msgs / messages})
		}
		AddReportEntry(reports.WireCostEntry, cost, ReportEntryVisibilityNever)
		fmt.Fprintln(GinkgoWriter, cost.String())
	})
})

// transportNames names a transport as the chart does: tcp, TLS (ssl://),
// websockets (ws://) and websockets over TLS (wss://).
var transportNames = map[string]string{"tcp": "tcp", "ssl": "TLS", "ws": "ws", "wss": "wss"}

// mqttCost sends the messages to topic at QoS qos from a publisher to a subscriber,
// both on raw connections over endpoint e (nil: the main target), and
// measures the bytes on their TCP sockets and the MQTT packets each way,
// after the connections are set up (TCP, TLS and websocket handshakes,
// CONNECT, SUBSCRIBE).
func mqttCost(ctx SpecContext, f *Framework, e *Endpoint, topic string, qos byte) reports.WireCostRow {
	connect := func() (*Raw, *Meter, string) {
		r, m, scheme := f.MeteredRaw(ctx, e)
		p := ConnectPacket()
		if e != nil {
			p = ConnectPacketVia(*e)
		}
		_, err := r.Connect(p)
		Expect(err).NotTo(HaveOccurred())
		return r, m, scheme
	}
	sub, subM, scheme := connect()
	Expect(sub.SubscribeFilters(1, wire.Sub(topic, qos))).To(Succeed())
	ack, err := sub.Expect(wire.SUBACK, 5*time.Second)
	Expect(err).NotTo(HaveOccurred())
	Expect(ack.ReasonCodes).To(Equal([]byte{qos}), "the broker must grant the QoS measured")
	pub, pubM, _ := connect()

	pubFrom, subFrom := pubM.Bytes(), subM.Bytes()
	var pubPackets, subPackets float64
	expect := func(r *Raw, t wire.Type, packets *float64) wire.Packet {
		p, err := r.Read(5 * time.Second)
		Expect(err).NotTo(HaveOccurred(), "waiting for %s", t)
		Expect(p.Type).To(Equal(t), "got %s", p)
		*packets++
		return p
	}
	send := func(r *Raw, p wire.Packet, packets *float64) {
		Expect(r.Send(p)).To(Succeed())
		*packets++
	}
	for i := range messages {
		id := uint16(i + 1)
		payload := fmt.Sprintf("%02d.5", i) // 4 bytes, like "21.5"
		send(pub, wire.Publish(topic, qos, id, payload), &pubPackets)
		switch qos {
		case 1:
			expect(pub, wire.PUBACK, &pubPackets)
		case 2:
			expect(pub, wire.PUBREC, &pubPackets)
			send(pub, wire.PubRel(id), &pubPackets)
			expect(pub, wire.PUBCOMP, &pubPackets)
		}
		got := expect(sub, wire.PUBLISH, &subPackets)
		Expect(string(got.Payload)).To(Equal(payload), "the subscriber must get every measured message, in order")
		switch qos {
		case 1:
			send(sub, wire.PubAck(got.PacketID), &subPackets)
		case 2:
			send(sub, wire.PubRec(got.PacketID), &subPackets)
			expect(sub, wire.PUBREL, &subPackets)
			send(sub, wire.PubComp(got.PacketID), &subPackets)
		}
	}
	// Every byte is in: the last packet each side waited for has been read,
	// and the last one it sent has been written.
	return reports.WireCostRow{Name: fmt.Sprintf("MQTT QoS %d over %s", qos, transportNames[scheme]), Unit: "MQTT packets",
		SendBytes: float64(pubM.Bytes()-pubFrom) / messages, SendPackets: pubPackets / messages,
		DeliverBytes: float64(subM.Bytes()-subFrom) / messages, DeliverPackets: subPackets / messages}
}

// httpPosts posts payload n times to a minimal Go HTTP server on loopback
// over one kept-alive connection (TLS when secure), and returns the bytes
// both sides wrote to their TCP sockets and how many HTTP messages
// (requests and responses) crossed.
func httpPosts(ctx context.Context, secure bool, path, payload string, n int) (bytes, msgs float64) {
	var b atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rw.WriteHeader(http.StatusNoContent)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv.Listener = countingListener{Listener: l, bytes: &b} // beneath TLS
	transport := &http.Transport{}
	if secure {
		srv.StartTLS()
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		transport.TLSClientConfig = &tls.Config{RootCAs: pool}
	} else {
		srv.Start()
	}
	defer srv.Close()
	dialer := &net.Dialer{}
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, bytes: &b}, nil
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	defer client.CloseIdleConnections()
	// One POST first, left out: it opens the connection (TCP and TLS
	// handshakes), as CONNECT and SUBSCRIBE are left out of MQTT's figures.
	for i := range n + 1 {
		if i == 1 {
			b.Store(0)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(payload))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "text/plain")
		resp, err := client.Do(req)
		Expect(err).NotTo(HaveOccurred())
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusNoContent))
	}
	return float64(b.Load()), float64(2 * n)
}

// countingConn counts the bytes written to a TCP socket. It counts them
// before they leave (and takes back what a failed write did not send), so
// once the other side has them they are counted: the client and the server
// write from goroutines of their own.
type countingConn struct {
	net.Conn
	bytes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.bytes.Add(int64(len(p)))
	n, err := c.Conn.Write(p)
	c.bytes.Add(int64(n - len(p)))
	return n, err
}

// countingListener counts the bytes the server writes to every socket it
// accepts.
type countingListener struct {
	net.Listener
	bytes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, bytes: l.bytes}, nil
}
