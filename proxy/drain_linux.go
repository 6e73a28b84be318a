//go:build linux

package proxy

import (
	"net"
	"syscall"
	"time"
	"unsafe"
)

// drain waits, at most d, until the kernel has sent every byte written to
// c. A reset (SO_LINGER 0) throws away what is still queued, so a cut that
// lets bytes through before it resets must wait for them to leave.
func drain(c *net.TCPConn, d time.Duration) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		var queued int32
		_ = rc.Control(func(fd uintptr) {
			_, _, _ = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&queued)))
		})
		if queued <= 0 {
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
}
