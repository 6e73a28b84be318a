package framework

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/faultline-mqtt/faultline/fixtures/embedded"
	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// fakeV311 is a listener that accepts 3.1.1 CONNECTs and answers 5.0 ones
// as answer5 says (nil: closes without a word); with refuseAll it closes
// every connection after its CONNECT.
func fakeV311(t *testing.T, answer5 []byte, refuseAll bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				b, err := wire.ReadPacket(bufio.NewReader(c), 1<<16)
				if err != nil || refuseAll {
					return
				}
				h, _, _ := wire.ParseHeader(b)
				switch level := b[h.Len+6]; {
				case level == wire.V5 && answer5 != nil:
					_, _ = c.Write(answer5)
				case level == wire.V5:
				default:
					_, _ = c.Write([]byte{0x20, 2, 0, 0})
				}
			}()
		}
	}()
	return "tcp://" + l.Addr().String()
}

func withTarget(t *testing.T, url string) {
	t.Helper()
	up, err := proxy.ParseUpstream(url)
	if err != nil {
		t.Fatal(err)
	}
	old := current
	current = &run{ID: "t5test", Target: Target{URL: url, Upstream: up}}
	speaks5.Store(false)
	t.Cleanup(func() { current = old; speaks5.Store(false) })
}

func TestABrokerThatDoesNotSpeak5IsToldApartFromADeadOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cases := []struct {
		name     string
		url      func(t *testing.T) string
		not5     bool
		evidence string
	}{
		{"3.1.1 CONNACK 0x01", func(t *testing.T) string { return fakeV311(t, []byte{0x20, 2, 0, 0x01}, false) }, true, "MQTT 3.1.1 CONNACK 0x01"},
		{"5.0 CONNACK 0x84", func(t *testing.T) string { return fakeV311(t, []byte{0x20, 3, 0, 0x84, 0}, false) }, true, "CONNACK 0x84"},
		{"close without CONNACK", func(t *testing.T) string { return fakeV311(t, nil, false) }, true, "closed the connection after a 5.0 CONNECT without a CONNACK"},
		{"closes 3.1.1 too: a dead broker", func(t *testing.T) string { return fakeV311(t, nil, true) }, false, ""},
		{"refuses 5.0 otherwise: not authorized", func(t *testing.T) string { return fakeV311(t, []byte{0x20, 3, 0, 0x87, 0}, false) }, false, ""},
		{"speaks 5.0", func(t *testing.T) string {
			b, err := embedded.Start(embedded.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b.URL()
		}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			withTarget(t, c.url(t))
			evidence, not5 := notSpeaking5(ctx)
			if not5 != c.not5 || !strings.Contains(evidence, c.evidence) {
				t.Fatalf("notSpeaking5 = %q, %v; want %v with %q", evidence, not5, c.not5, c.evidence)
			}
			if not5 && !strings.Contains(evidence, "3.1.1 CONNECT to the same target got CONNACK 0x00") {
				t.Errorf("the evidence does not say a 3.1.1 CONNECT worked: %q", evidence)
			}
			if got := speaks5.Load(); got != (c.name == "speaks 5.0") {
				t.Errorf("speaks5 = %v after %s", got, c.name)
			}
		})
	}
}
