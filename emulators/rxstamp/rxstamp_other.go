//go:build !linux

package rxstamp

import (
	"net"
	"syscall"
)

// enable reports that receive timestamps are not supported here.
func enable(syscall.Conn) bool { return false }

// stamped gives no Conn where receive timestamps are not supported.
func stamped(*net.TCPConn) *Conn { return nil }
