package wire

import (
	"encoding/binary"
	"strconv"
)

// Defaults of Stream.
const (
	DefaultPayloadPreview = 64
	DefaultMaxHeld        = 64 << 10
	minHeld               = 16 // enough for any fixed header and topic length
)

// Stream decodes one direction of a connection fed in arbitrary chunks:
// packets split across many chunks, or many packets in one chunk.
//
// Memory stays bounded: of a PUBLISH it holds the fixed and variable
// headers and PayloadPreview bytes of payload; of any other packet at most
// MaxHeld bytes. A packet larger than that is reported with Malformed
// "too large to decode", and framing goes on from its Remaining Length.
//
// A fixed header whose Remaining Length runs past four bytes loses the
// framing for good: from then on bytes are reported as Lost frames.
//
// The zero Stream is ready to use. A Stream is not safe for concurrent use.
type Stream struct {
	// Version is the protocol level used to decode; 0 means unknown and
	// decodes as MQTT 3.1.1. A CONNECT seen on the stream sets it; callers
	// set it on the other direction of the connection.
	Version byte
	// PayloadPreview is how many PUBLISH payload bytes a Frame keeps;
	// 0 means DefaultPayloadPreview and a negative value none.
	PayloadPreview int
	// MaxHeld bounds the bytes held of a packet other than PUBLISH payload;
	// 0 means DefaultMaxHeld.
	MaxHeld int

	off   int64   // bytes consumed
	lost  bool    // framing lost
	start int64   // offset of the current packet
	hdr   [5]byte // fixed header bytes of the current packet
	nhdr  int     // bytes in hdr; 0 between packets
	h     Header  // fixed header of the current packet once h.Len > 0
	seen  int     // bytes of the current packet consumed
	buf   []byte  // bytes held of the current packet, fixed header included
}

// Frame is one packet found on a Stream.
type Frame struct {
	Packet
	// Offset is the stream offset of the packet's first byte.
	Offset int64
	// Lost means the framing was lost on a malformed fixed header. The
	// Packet is then zero but for Remaining, the count of bytes passed over;
	// every later byte is reported in one Lost frame per Feed call.
	Lost bool
}

// String describes the frame like Packet.String, or as "LOST nB".
func (f Frame) String() string {
	if f.Lost {
		return "LOST " + strconv.Itoa(f.Remaining) + "B"
	}
	return f.Packet.String()
}

// Feed consumes all of p and calls fn, when not nil, for each packet
// completed within p, in order. The frames own their memory.
func (s *Stream) Feed(p []byte, fn func(Frame)) {
	for len(p) > 0 {
		switch {
		case s.lost:
			s.emit(fn, Frame{Offset: s.off, Lost: true, Packet: Packet{Header: Header{Remaining: len(p)}}})
			s.off += int64(len(p))
			return
		case s.nhdr == 0:
			if n := s.whole(p, fn); n > 0 {
				p = p[n:]
				continue
			}
		}
		p = p[s.partial(p, fn):]
	}
}

// Offset returns the number of bytes consumed so far.
func (s *Stream) Offset() int64 { return s.off }

// Lost tells whether the framing has been lost.
func (s *Stream) Lost() bool { return s.lost }

// Pending describes the packet being received, if any: its fixed header
// (h.Len is 0 while the header itself is incomplete, with only Type and
// Flags set) and the bytes of it seen so far.
func (s *Stream) Pending() (h Header, seen int, inPacket bool) {
	switch {
	case s.lost || s.nhdr == 0:
		return Header{}, 0, false
	case s.h.Len == 0:
		return Header{Type: Type(s.hdr[0] >> 4), Flags: s.hdr[0] & 0x0f}, s.nhdr, true
	}
	return s.h, s.seen, true
}

// whole decodes a packet that lies entirely at the start of p without
// copying it, returning its size, or 0 when p holds no whole packet.
func (s *Stream) whole(p []byte, fn func(Frame)) int {
	h, ok, err := ParseHeader(p)
	if err != nil || !ok || h.Size() > len(p) {
		return 0
	}
	size := h.Size()
	s.start = s.off
	s.off += int64(size)
	s.deliver(fn, p[:s.holdLen(h, p[:size])])
	return size
}

// partial consumes bytes of a packet spread over several Feed calls,
// returning how many of p it used.
func (s *Stream) partial(p []byte, fn func(Frame)) int {
	n := 0
	if s.nhdr == 0 {
		s.start = s.off
	}
	for s.h.Len == 0 {
		if n == len(p) {
			return n
		}
		s.hdr[s.nhdr] = p[n]
		s.nhdr++
		n++
		s.off++
		h, ok, err := ParseHeader(s.hdr[:s.nhdr])
		if err != nil {
			s.lose(fn, len(p)-n)
			return len(p)
		}
		if ok {
			s.h, s.seen = h, s.nhdr
			s.buf = append(s.buf[:0], s.hdr[:s.nhdr]...)
		}
	}
	for n < len(p) {
		want := s.holdLen(s.h, s.buf)
		if len(s.buf) >= want {
			break
		}
		k := min(want-len(s.buf), len(p)-n)
		s.buf = append(s.buf, p[n:n+k]...)
		n += k
		s.seen += k
		s.off += int64(k)
	}
	if len(s.buf) >= s.holdLen(s.h, s.buf) {
		k := min(s.h.Size()-s.seen, len(p)-n)
		n += k
		s.seen += k
		s.off += int64(k)
	}
	if s.seen == s.h.Size() {
		s.deliver(fn, s.buf)
		s.nhdr, s.h, s.seen, s.buf = 0, Header{}, 0, s.buf[:0]
	}
	return n
}

// lose gives up framing at a malformed fixed header, passing over the rest
// bytes of the current Feed call.
func (s *Stream) lose(fn func(Frame), rest int) {
	s.lost = true
	s.off += int64(rest)
	f := Frame{Offset: s.start, Lost: true}
	f.Remaining = int(s.off - s.start)
	s.emit(fn, f)
}

// deliver decodes the held bytes of a packet and passes the frame to fn.
func (s *Stream) deliver(fn func(Frame), held []byte) {
	p, err := Decode(held, s.Version)
	if err == ErrIncomplete && p.Malformed == "" {
		p.Malformed = "too large to decode"
	}
	preview := s.preview()
	p.Payload = clip(p.Payload, preview)
	if p.Will != nil {
		w := *p.Will
		w.Payload = clip(w.Payload, preview)
		p.Will = &w
	}
	if p.Type == CONNECT && p.ProtocolLevel >= V31 && p.ProtocolLevel <= V5 {
		s.Version = p.ProtocolLevel
	}
	s.emit(fn, Frame{Packet: p, Offset: s.start})
}

func (s *Stream) emit(fn func(Frame), f Frame) {
	if fn != nil {
		fn(f)
	}
}

// clip returns a copy of at most n bytes of b, or nil.
func clip(b []byte, n int) []byte {
	if n = min(n, len(b)); n <= 0 {
		return nil
	}
	return append(make([]byte, 0, n), b[:n]...)
}

func (s *Stream) preview() int {
	switch {
	case s.PayloadPreview == 0:
		return DefaultPayloadPreview
	case s.PayloadPreview < 0:
		return 0
	}
	return s.PayloadPreview
}

func (s *Stream) maxHeld() int {
	if s.MaxHeld == 0 {
		return DefaultMaxHeld
	}
	return max(s.MaxHeld, minHeld)
}

// holdLen returns how many bytes of the packet with header h to hold,
// given the first bytes b of it. It only looks at bytes before the length
// it returns, so feeding b in any chunking reaches the same answer.
func (s *Stream) holdLen(h Header, b []byte) int {
	limit := s.maxHeld()
	if h.Type == PUBLISH {
		limit = publishHold(h, b, s.Version == V5, limit, s.preview())
	}
	return min(limit, h.Size())
}

// publishHold returns how many bytes of a PUBLISH to hold: its headers and
// preview bytes of payload, or maxHeld when the headers are larger.
func publishHold(h Header, b []byte, v5 bool, maxHeld, preview int) int {
	pos := h.Len + 2
	if len(b) < pos {
		return min(pos, maxHeld)
	}
	pos += int(binary.BigEndian.Uint16(b[h.Len:]))
	if h.Flags&0x06 != 0 {
		pos += 2
	}
	if v5 {
		if len(b) <= pos {
			return min(pos+1, maxHeld)
		}
		n, k := uvarint(b[pos:])
		switch {
		case k == 0:
			return min(len(b)+1, maxHeld)
		case k < 0:
			return min(pos+4, maxHeld)
		}
		pos += k + n
	}
	if pos > maxHeld {
		return maxHeld
	}
	return pos + preview
}
