package wire

import "encoding/binary"

// Header is the fixed header of a packet.
type Header struct {
	Type      Type
	Flags     byte // low nibble of byte 0
	Remaining int  // Remaining Length
	Len       int  // bytes taken by the fixed header (2..5)
}

// Size returns the number of bytes of the whole packet.
func (h Header) Size() int { return h.Len + h.Remaining }

// ParseHeader decodes the fixed header at the start of b. It returns ok
// false and a nil error when b ends before the header does, and ErrLength
// when the Remaining Length runs past four bytes. Non-minimal encodings of
// the Remaining Length are accepted.
func ParseHeader(b []byte) (h Header, ok bool, err error) {
	if len(b) == 0 {
		return h, false, nil
	}
	h.Type, h.Flags = Type(b[0]>>4), b[0]&0x0f
	rl, n := uvarint(b[1:])
	switch {
	case n < 0:
		return h, false, ErrLength
	case n == 0:
		return h, false, nil
	}
	h.Remaining, h.Len = rl, 1+n
	return h, true, nil
}

// uvarint decodes a Variable Byte Integer at the start of b. It returns the
// value and the number of bytes it takes; n == 0 means b ends before the
// integer does and n < 0 means the integer runs past four bytes.
func uvarint(b []byte) (v, n int) {
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0
		}
		v |= int(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// IdentityLen tells how many bytes from the start of a packet are needed to
// know its identity fields: the topic and packet identifier of a PUBLISH,
// the packet identifier of the acknowledgements, SUBSCRIBE and UNSUBSCRIBE,
// and the whole packet for every other type. prefix holds the bytes of the
// packet seen so far, fixed header included. The result never exceeds
// h.Size(); it is larger than len(prefix) when more bytes are needed.
func IdentityLen(h Header, prefix []byte) int {
	size := h.Size()
	if h.Len < 0 || h.Remaining < 0 {
		return max(size, 0)
	}
	need := size
	switch h.Type {
	case PUBLISH:
		need = h.Len + 2
		if len(prefix) >= need {
			need += int(binary.BigEndian.Uint16(prefix[h.Len:]))
			if h.Flags&0x06 != 0 {
				need += 2
			}
		}
	case PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK:
		need = h.Len + 2
	}
	return min(need, size)
}
