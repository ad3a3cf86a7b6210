package remote

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/jetup/jetup/step"
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

// A target's fields go into the ssh config jetup writes, onto ssh's and
// nix's command lines and into known_hosts, where a newline, a space or a
// quote would start a directive of their own (a ProxyCommand runs a
// command). Check is the one rule for all of them; the fleet inventory
// checks its boards with it too.

// validUser is a login name as shadow-utils accepts it (the console key
// setup types it unquoted after ~, so it is also safe in a shell).
var validUser = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// validHostName is a DNS name or an IPv4 address: letters, digits, dots and
// dashes, not starting with a dash (ssh would read it as an option).
var validHostName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9._-]{0,252})$`)

// CheckUser checks a login user name.
func CheckUser(u string) error {
	if !validUser.MatchString(u) {
		return fmt.Errorf("user %q is not a login name (lowercase letters, digits, _ and -, starting with a letter or _)", u)
	}
	return nil
}

// CheckHost checks a board's address: a host name, an IPv4 address, or an
// IPv6 address without brackets (a link-local one may carry its %zone).
func CheckHost(h string) error {
	if validHostName.MatchString(h) {
		return nil
	}
	addr, zone, _ := strings.Cut(h, "%")
	if ip := net.ParseIP(addr); ip != nil && ip.To4() == nil && (zone == "" || validHostName.MatchString(zone)) {
		return nil
	}
	return fmt.Errorf("host %q is not a host name or an IP address", h)
}

// checkPath checks a file name that goes into the ssh config between
// quotes, where nothing can escape a quote.
func checkPath(what, p string) error {
	for _, r := range p {
		if r == '"' || r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q holds a quote or a control character", what, p)
		}
	}
	return nil
}

// Check checks every field of t.
func (t Target) Check() error {
	if err := CheckHost(t.Host); err != nil {
		return err
	}
	if t.Port < 0 || t.Port > 65535 {
		return fmt.Errorf("port %d is not a TCP port", t.Port)
	}
	if err := CheckUser(t.UserOrRoot()); err != nil {
		return err
	}
	return checkPath("identity file", t.Identity)
}

// Refusal is Check as a step's refusal (exit 2, cause "usage"), or nil.
// Steps return it before they build or run anything.
func (t Target) Refusal() error {
	if err := t.Check(); err != nil {
		return step.Refuse(string(CauseUsage), "pass --host as a host name or IP address and --user as a login name", "%v", err)
	}
	return nil
}
