package framework

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// A broker that does not speak MQTT 5.0 answers a 5.0 CONNECT in one of
// three ways: a 5.0 CONNACK 0x84 (Unsupported Protocol Version), a 3.1.1
// CONNACK 0x01 (unacceptable protocol version), or a close without any
// CONNACK. Each spec of the 5.0 half (label v5) therefore opens its first
// connection with a well-formed 5.0 CONNECT straight to the broker; when
// the broker answers in one of those ways, and a 3.1.1 CONNECT to the same
// target is accepted, the spec ends as "not supported" with what the
// broker answered as the evidence. A broker that accepts neither is no
// broker that lacks 5.0 but one that does not serve: the spec runs and
// fails (and the serving watch reports it down). Runs against the faulty
// broker skip the check: there a refused 5.0 CONNECT is a defect to catch.

// speaks5 is set once a 5.0 CONNECT of this process was accepted: later
// specs skip the check.
var speaks5 atomic.Bool

// watchV5 registers the check; Suite calls it.
func watchV5() {
	ginkgo.BeforeEach(func(ctx ginkgo.SpecContext) {
		if current == nil || current.Target.Defect != "" || speaks5.Load() ||
			!slices.Contains(ginkgo.CurrentSpecReport().Labels(), V5Label) {
			return
		}
		if evidence, ok := notSpeaking5(ctx); ok {
			Unsupported(evidence)
		}
	}, ginkgo.NodeTimeout(30*time.Second))
}

// notSpeaking5 says whether the target does not speak MQTT 5.0 (it
// refuses a 5.0 CONNECT as a broker that does not know the version does,
// and accepts a 3.1.1 CONNECT), with the evidence.
func notSpeaking5(ctx context.Context) (string, bool) {
	answer, refused := probe5(ctx)
	if !refused {
		return "", false
	}
	if err := current.Target.Probe(ctx, current.clientID()); err != nil {
		ginkgo.GinkgoWriter.Printf("faultline: the broker %s, and refused a 3.1.1 CONNECT too (%v): the spec runs\n", answer, err)
		return "", false
	}
	return fmt.Sprintf("the broker does not speak MQTT 5.0: it %s, while a 3.1.1 CONNECT to the same target got CONNACK 0x00", answer), true
}

// probe5 sends a well-formed 5.0 CONNECT straight to the broker and says
// what came back, and whether that is a refusal of the protocol version.
// An accepting CONNACK marks the process's target as speaking 5.0.
func probe5(ctx context.Context) (answer string, refused bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := current.Target.Upstream.Dial(ctx)
	if err != nil {
		return "could not be reached: " + err.Error(), false
	}
	defer conn.Close()
	p := wire.Connect(current.clientID(), wire.Version(wire.V5), wire.KeepAlive(10),
		wire.Login(current.Target.Username, current.Target.Password))
	deadline := time.Now().Add(AckTimeout())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(wire.Encode(p)); err != nil {
		return "took no 5.0 CONNECT: " + err.Error(), false
	}
	b, err := wire.ReadPacket(conn, 1<<16)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "did not answer a 5.0 CONNECT", false
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err):
		return "closed the connection after a 5.0 CONNECT without a CONNACK", true
	case err != nil:
		return "failed reading the answer to a 5.0 CONNECT: " + err.Error(), false
	}
	h, _, _ := wire.ParseHeader(b)
	if h.Type != wire.CONNACK || len(b) < h.Len+2 {
		return fmt.Sprintf("answered a 5.0 CONNECT with packet type %d", h.Type), false
	}
	code := b[h.Len+1]
	switch {
	case code == 0x00:
		speaks5.Store(true)
		_, _ = conn.Write(wire.Encode(wire.Disconnect(wire.Version(wire.V5))))
		return "accepted a 5.0 CONNECT", false
	case code == 0x01 && h.Remaining == 2:
		return "answered a 5.0 CONNECT with an MQTT 3.1.1 CONNACK 0x01 (unacceptable protocol version)", true
	case code == 0x01 || code == 0x84:
		return fmt.Sprintf("answered a 5.0 CONNECT with CONNACK 0x%02X (%d bytes)", code, len(b)), true
	}
	return fmt.Sprintf("refused a 5.0 CONNECT with CONNACK 0x%02X", code), false
}

// isReset says whether err is a connection reset by the peer.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
