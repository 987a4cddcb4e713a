package rxstamp

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// enable turns SO_TIMESTAMPNS on for a socket (accepted sockets inherit it from their
// listener); false if it cannot be.
func enable(s syscall.Conn) bool {
	raw, err := s.SyscallConn()
	if err != nil {
		return false
	}
	var sockErr error
	if err := raw.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || sockErr != nil {
		return false
	}
	return true
}

// stamped returns c as a Conn that reads with recvmsg, or nil if it cannot.
func stamped(c *net.TCPConn) *Conn {
	raw, err := c.SyscallConn()
	if err != nil || !enable(c) {
		return nil
	}
	return &Conn{TCPConn: c, raw: raw}
}

// Read reads as the connection would, with recvmsg, noting when the data it returns reached
// the socket. Its control-message room is its own, so concurrent Reads stay safe.
func (c *Conn) Read(p []byte) (int, error) {
	var oob [64]byte // one timestamp message
	var n, oobn int
	var rerr error
	// The poller's wait (deadlines, a closed connection) is raw.Read's, as for a plain Read.
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, oob[:], 0)
			if rerr == nil {
				syncWithWriters(fd)
			}
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("recvmsg", rerr)}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	if ns := timestamp(oob[:oobn]); ns != 0 {
		c.arrival.Store(ns)
	}
	return n, nil
}

// syncWithWriters tells the race detector that what was written to a socket happened before
// this read of it, as Go's own reads do (syscall.Read's acquire of the I/O sync point): without
// it, two goroutines talking over a stamped connection look unsynchronised. A read of no bytes
// consumes nothing; it runs in race-detector builds only.
func syncWithWriters(fd uintptr) {
	if raceEnabled {
		_, _ = syscall.Read(int(fd), nil)
	}
}

// timestamp is the SCM_TIMESTAMPNS time in Unix nanoseconds among the control messages, or 0.
func timestamp(oob []byte) int64 {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			return ts.Nano()
		}
	}
	return 0
}
