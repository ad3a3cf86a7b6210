package remote

import (
	"fmt"
	"time"
)

// Host key states.
const (
	KeyPinned    = "pinned"    // already trusted, and the board still offers it
	KeyNew       = "new"       // first contact: not trusted yet
	KeyAccepted  = "accepted"  // pinned now (Via says who vouched)
	KeyChanged   = "changed"   // differs from the pinned one: refused
	KeyForgotten = "forgotten" // the old pin was dropped (--forget-host-key)
)

// HostKey is the board's SSH host key and what jetup makes of it.
type HostKey struct {
	Event       string    `json:"event"` // "host_key"
	At          time.Time `json:"at"`
	Host        string    `json:"host"` // as in known_hosts: "192.168.55.1" or "[host]:2222"
	Type        string    `json:"type"` // "ssh-ed25519"
	Fingerprint string    `json:"fingerprint"`
	Status      string    `json:"status"`
	// Pinned is the fingerprint trusted before, when it changed.
	Pinned string `json:"pinned,omitempty"`
	// Via says who vouched for a newly accepted key: "console" (the board
	// printed it), "flag" (--accept-host-key), "person" (confirmed in the
	// wizard).
	Via string `json:"via,omitempty"`
}

// Text renders the key line.
func (k HostKey) Text() string {
	s := fmt.Sprintf("host key %s %s: %s", k.Type, k.Fingerprint, k.Status)
	if k.Via != "" {
		s += " (" + k.Via + ")"
	}
	if k.Pinned != "" {
		s += ", pinned was " + k.Pinned
	}
	return s
}
