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
//
// # In detail
//
// remote: reaching a booted board over SSH with its host key pinned,
// shared by every step that talks to a board (push today; verify, update,
// fleet and bundle as they land). `Target` (host, port, user, identity),
// `KnownHosts` (jetup's own known_hosts: `Pinned`, `Pin`, `Forget`;
// `KnownHostsPath` is where it lives under the state dir, `.sim` apart for
// the simulated bench), `Connect` (the first-contact rules: a new key is
// pinned only when the console, `--accept-host-key` or the person vouches; a
// changed key is always refused, with both fingerprints; `HostKey` events),
// `Redial` for a board already trusted, and the `Dialer`/`Conn` edge.
// `Answer` reads the `jetup:key=value` lines a caller's board shell prints
// for jetup (push's probe, fetch and activation, fleet's k3s shell, update).
// `OpenSSH` is the real dialer: `golang.org/x/crypto/ssh` reads a new
// board's key (no login) and `knownhosts` tells a new key from a changed
// one; one ControlMaster connection per step, whose first session runs the
// caller's script; every ssh jetup or nix starts gets `StrictHostKeyChecking
// yes` against that file through a generated `-F` config (`NIX_SSHOPTS`).
// `Target.Check` (`CheckHost`, `CheckUser`: the console key setup's
// login-name rule) is the one rule for every field that reaches the ssh
// config, a command line or known_hosts; `Refusal` is it as exit 2, which
// push, verify and `Connect` return before anything runs, and the config
// builder refuses too. known_hosts must be the user's and not writable by
// others (`safe.CheckFile`); `Pin` and `Forget` hold a lock on its
// directory, `Forget` reads it whole (any line length) and replaces it
// atomically keeping every byte it does not remove (`FuzzKnownHostsEdit`).
// Its cause ids (host keys, reaching the board) are typed (`Cause`,
// cause.go). Imports `step`, `proc`, `safe`.
package remote
