package framework

import (
	"strings"

	"github.com/faultline-mqtt/faultline/proxy"
)

// clientSideEnded says whether trace entry e ends the client's side of one of the
// link's connections, and which: the client closed it, a cut fired on it,
// or a fault on the whole link (reset, blackhole, down) struck the latest
// one. From then on nothing the broker writes to it reaches the client
// (history.WireEnd).
func clientSideEnded(e proxy.Entry, latest int) (int, bool) {
	switch {
	case e.Kind == proxy.Event && e.Conn > 0 && strings.HasPrefix(e.Note, "client closed the connection"):
		return e.Conn, true
	case e.Kind == proxy.Injected && e.Conn > 0:
		return e.Conn, true
	case e.Kind == proxy.Injected && latest > 0 &&
		(strings.HasPrefix(e.Note, "reset now") || strings.HasPrefix(e.Note, "blackhole") || strings.HasPrefix(e.Note, "down:")):
		return latest, true
	}
	return 0, false
}
