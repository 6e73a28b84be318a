package wire

import (
	"fmt"
	"io"
)

// ReadPacket reads exactly one packet, fixed header and body, from r and
// returns its bytes. A packet announcing more than max bytes in all (max > 0)
// makes an error wrapping ErrTooLarge before its body is read or allocated.
// A malformed Remaining Length gives ErrLength. Errors of r pass through,
// with io.EOF in the middle of a packet turned into io.ErrUnexpectedEOF.
//
// The fixed header is read a byte at a time: give it a buffered reader.
func ReadPacket(r io.Reader, max int) ([]byte, error) {
	var hdr [5]byte
	for n := 1; n <= len(hdr); n++ {
		if _, err := io.ReadFull(r, hdr[n-1:n]); err != nil {
			if n > 1 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		h, ok, err := ParseHeader(hdr[:n])
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if max > 0 && h.Size() > max {
			return nil, fmt.Errorf("%w: %s of %d bytes, limit %d", ErrTooLarge, h.Type, h.Size(), max)
		}
		pkt := make([]byte, h.Size())
		copy(pkt, hdr[:n])
		if _, err := io.ReadFull(r, pkt[n:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return pkt, nil
	}
	return nil, ErrLength // not reached: ParseHeader fails at five bytes
}
