package framework

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/framework/payloads"
)

// Generated payloads (package payloads) over raw connections: sent as
// they are generated and checked as they arrive, never held whole; and the
// bound on how large the payload specs make them.

// EnvMaxPayload bounds the largest payload the payload specs send, in
// bytes or with a suffix (KiB, MiB, GiB; K, KB, M, MB, G, GB mean the same).
const EnvMaxPayload = "FAULTLINE_MAX_PAYLOAD"

// DefaultMaxPayload is the bound when EnvMaxPayload is unset.
const DefaultMaxPayload = 16 << 20

// MaxPayload reads EnvMaxPayload; in public mode it is at most
// PublicMaxPayload.
func MaxPayload() (int, error) {
	n, err := maxPayloadFromEnv()
	if Public() && (err != nil || n > PublicMaxPayload) {
		return PublicMaxPayload, nil
	}
	return n, err
}

func maxPayloadFromEnv() (int, error) {
	v := strings.TrimSpace(os.Getenv(EnvMaxPayload))
	if v == "" {
		return DefaultMaxPayload, nil
	}
	num := strings.TrimRightFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToUpper(strings.TrimSpace(v[len(num):]))
	mult, ok := map[string]int{"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10,
		"M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30}[unit]
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a size such as 16777216, 16MiB or 256MiB", EnvMaxPayload, v)
	}
	return n * mult, nil
}

// PublishGenerated sends a PUBLISH of payload to topic, writing the
// payload as it is generated. id is ignored at QoS 0. An error means the
// connection failed while the packet was being written.
func (r *Raw) PublishGenerated(topic string, qos byte, id uint16, payload payloads.Generated) error {
	vh := wire.AppendString(nil, topic)
	if qos > 0 {
		vh = binary.BigEndian.AppendUint16(vh, id)
	}
	hdr := wire.AppendVarInt([]byte{byte(wire.PUBLISH)<<4 | qos<<1}, len(vh)+payload.Size)
	if err := r.Write(append(hdr, vh...)); err != nil {
		return fmt.Errorf("writing the PUBLISH header: %w", err)
	}
	sent := 0
	err := payload.Each(func(b []byte) error {
		if err := r.Write(b); err != nil {
			return fmt.Errorf("writing the payload after %d of %d bytes: %w", sent, payload.Size, err)
		}
		sent += len(b)
		return nil
	})
	return err
}

// Arrival is a PUBLISH received by ReceiveGenerated, described without its
// payload.
type Arrival struct {
	wire.Header
	Topic    string
	QoS      byte
	DUP      bool
	Retain   bool
	PacketID uint16
	Size     int    // payload bytes
	Digest   string // size and SHA-256 of the payload, as payloads.Digest prints them
	// FirstDiff is the offset of the first payload byte that differs from
	// the expected payload, or -1 when none does (the sizes may still
	// differ: compare Size).
	FirstDiff int
	Got, Want byte // the bytes at FirstDiff
}

// ReceiveGenerated reads packets until a PUBLISH arrives and reads its
// payload piece by piece, comparing it with want as it goes. Packets of
// other types are passed over. It waits up to first for the PUBLISH to
// begin, and fails when nothing comes for stall once it has. It does not
// acknowledge the PUBLISH.
func (r *Raw) ReceiveGenerated(first, stall time.Duration, want payloads.Generated) (Arrival, error) {
	deadline := time.Now().Add(first)
	for {
		h, err := r.genHeader(max(time.Until(deadline), time.Millisecond))
		if err != nil {
			return Arrival{}, err
		}
		if h.Type != wire.PUBLISH {
			if _, err := r.genFull(make([]byte, h.Remaining), stall); err != nil {
				return Arrival{}, fmt.Errorf("reading a %s: %w", h.Type, err)
			}
			continue
		}
		return r.genPublish(h, stall, want)
	}
}

// genHeader reads a fixed header a byte at a time.
func (r *Raw) genHeader(stall time.Duration) (wire.Header, error) {
	var hdr [5]byte
	for n := 1; n <= len(hdr); n++ {
		if _, err := r.genFull(hdr[n-1:n], stall); err != nil {
			return wire.Header{}, err
		}
		h, ok, err := wire.ParseHeader(hdr[:n])
		if err != nil {
			return wire.Header{}, err
		}
		if ok {
			return h, nil
		}
	}
	return wire.Header{}, wire.ErrLength
}

// genFull fills b, giving up when no byte comes for stall.
func (r *Raw) genFull(b []byte, stall time.Duration) (int, error) {
	n := 0
	for n < len(b) {
		_ = r.conn.SetReadDeadline(time.Now().Add(stall))
		k, err := r.conn.Read(b[n:])
		n += k
		if err != nil {
			if errors.Is(err, io.EOF) && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	return n, nil
}

func (r *Raw) genPublish(h wire.Header, stall time.Duration, want payloads.Generated) (Arrival, error) {
	a := Arrival{Header: h, QoS: h.Flags >> 1 & 3, DUP: h.Flags&8 != 0, Retain: h.Flags&1 != 0, FirstDiff: -1}
	var two [2]byte
	if _, err := r.genFull(two[:], stall); err != nil {
		return a, fmt.Errorf("reading the PUBLISH topic length: %w", err)
	}
	topic := make([]byte, binary.BigEndian.Uint16(two[:]))
	if _, err := r.genFull(topic, stall); err != nil {
		return a, fmt.Errorf("reading the PUBLISH topic: %w", err)
	}
	a.Topic = string(topic)
	left := h.Remaining - 2 - len(topic)
	if a.QoS > 0 {
		if _, err := r.genFull(two[:], stall); err != nil {
			return a, fmt.Errorf("reading the PUBLISH packet identifier: %w", err)
		}
		a.PacketID = binary.BigEndian.Uint16(two[:])
		left -= 2
	}
	if left < 0 {
		return a, fmt.Errorf("a PUBLISH whose remaining length %d is shorter than its headers", h.Remaining)
	}
	check := want.Check()
	got := make([]byte, payloads.Chunk)
	for off := 0; off < left; {
		b := got[:min(left-off, len(got))]
		if _, err := r.genFull(b, stall); err != nil {
			return a, fmt.Errorf("reading the payload after %d of %d bytes: %w", off, left, err)
		}
		_, _ = check.Write(b)
		off += len(b)
	}
	a.FirstDiff, a.Got, a.Want = check.FirstDiff()
	a.Size, a.Digest = check.Size(), check.Digest()
	return a, nil
}
