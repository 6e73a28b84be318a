//go:build !linux

package proxy

import (
	"net"
	"time"
)

// drain cannot see the send queue here; a short pause gives queued bytes
// time to leave before a reset.
func drain(c *net.TCPConn, d time.Duration) { time.Sleep(min(d, 5*time.Millisecond)) }
