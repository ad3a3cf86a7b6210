package serialcon

// Cause is the id of why a console session could not start or ended
// without what was asked (the step error's cause, the run record's). The
// ids are an interface: keep them exactly.
type Cause string

const (
	// Opening the port (OpenError, and the session's refusal).
	CausePortMissing    Cause = "port-missing"    // the port never appeared (--timeout) or its node is gone
	CausePortBusy       Cause = "port-busy"       // another program has it open
	CausePortPermission Cause = "port-permission" // not in the group that may open it
	CausePortInvalid    Cause = "port-invalid"    // not a serial port, or a bad setting
	// Finding the port.
	CausePortList Cause = "port-list" // the ports could not be listed
	CauseNoPort   Cause = "no-port"   // no port for the board appeared (--timeout)
	// The session.
	CausePortGone     Cause = "port-gone"     // unplugged with --no-reconnect
	CauseUntilTimeout Cause = "until-timeout" // --until not seen within --timeout
	CauseTimeout      Cause = "timeout"       // --timeout reached, no --until
)

// Causes lists every cause id.
var Causes = []Cause{CausePortMissing, CausePortBusy, CausePortPermission, CausePortInvalid,
	CausePortList, CauseNoPort, CausePortGone, CauseUntilTimeout, CauseTimeout}
