package remote

import (
	"net"
	"strconv"
)

// Target is the board to reach.
type Target struct {
	Host string
	Port int    // 22 when 0
	User string // root when ""
	// Identity is the private key file; "" uses ssh's defaults and agent.
	Identity string
}

// Addr is "host:port".
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.PortOr22())) }

// PortOr22 is the port, 22 when unset.
func (t Target) PortOr22() int {
	if t.Port == 0 {
		return 22
	}
	return t.Port
}

// UserOrRoot is the login user, root when unset.
func (t Target) UserOrRoot() string {
	if t.User == "" {
		return "root"
	}
	return t.User
}

// String is "user@host" or "user@host:port".
func (t Target) String() string {
	s := t.UserOrRoot() + "@" + t.Host
	if t.PortOr22() != 22 {
		s += ":" + strconv.Itoa(t.PortOr22())
	}
	return s
}
