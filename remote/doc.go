// Package remote reaches a booted board over SSH with its host key pinned:
// the target's address and user, jetup's own known_hosts (pin, forget,
// look up), the first-contact rules (who may vouch for a new key; a
// changed key is always refused), and one OpenSSH ControlMaster connection
// whose first session is a script of the caller's (push's board shell,
// verify's probe, update's applier).
//
// Every step that talks to a board (push, verify, update, fleet, bundle)
// goes through Connect, so they trust exactly the same keys and refuse
// exactly the same way. Imports step and proc.
package remote
