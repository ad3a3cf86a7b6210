package remote

// Cause is the id of why jetup could not reach or trust a board: the step
// error's cause for every step that uses this package (push, verify), and
// what the faces match on. The ids are an interface: keep them exactly.
type Cause string

const (
	CauseUsage           Cause = "usage"             // --host or --user cannot be a host or a login name
	CauseKnownHosts      Cause = "known-hosts"       // jetup's known_hosts cannot be read or written
	CauseHostKeyUnknown  Cause = "host-key-unknown"  // first contact and nobody vouched for the key
	CauseHostKeyRejected Cause = "host-key-rejected" // the person said no to the key
	CauseHostKeyMismatch Cause = "host-key-mismatch" // the key differs from the one vouched for
	CauseHostKeyChanged  Cause = "host-key-changed"  // the key differs from the pinned one
	CauseUnreachable     Cause = "unreachable"       // no route, refused, timed out, no such host
	CauseAuthRefused     Cause = "auth-refused"      // the login was refused
)

// Causes lists every cause id.
var Causes = []Cause{CauseUsage, CauseKnownHosts, CauseHostKeyUnknown, CauseHostKeyRejected, CauseHostKeyMismatch,
	CauseHostKeyChanged, CauseUnreachable, CauseAuthRefused}
