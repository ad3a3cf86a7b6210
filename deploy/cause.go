package deploy

// Cause is the id of why a push (or a write to a directory, or the
// console's key setup) did not happen: the step error's cause, the run
// record's, what scripts match on. The ids are an interface: keep them
// exactly. The connection's own causes (host keys, reaching the board)
// are remote's.
type Cause string

const (
	CauseUsage Cause = "usage" // the command line does not say what to push where

	// The system to push.
	CauseBadClosure  Cause = "bad-closure"  // not a store path, not a NixOS system, not in this machine's store
	CauseBuildFailed Cause = "build-failed" // nix build of --flake failed

	// Preflight: the board refused before a byte is sent.
	CauseWrongArch    Cause = "wrong-arch"    // the system is for another architecture
	CauseNoNix        Cause = "no-nix"        // no Nix on the board
	CauseWrongUser    Cause = "wrong-user"    // the login can write neither the store nor through sudo
	CauseNotInstaller Cause = "not-installer" // installer mode asked, no installer with /mnt
	CauseNotNixOS     Cause = "not-nixos"     // switch or boot asked, the board is no NixOS
	CauseNoSpace      Cause = "no-space"      // the store lacks room for what is sent

	// During the push.
	CauseProbeFailed      Cause = "probe-failed"      // the board's answers could not be read
	CauseDeltaFailed      Cause = "delta-failed"      // what the board lacks could not be asked
	CauseCopyFailed       Cause = "copy-failed"       // nix copy failed on its own
	CauseConnectionLost   Cause = "connection-lost"   // the link dropped (the copy resumes on a rerun)
	CauseActivationFailed Cause = "activation-failed" // switch-to-configuration or nixos-install failed
	CauseRemoteFailed     Cause = "remote-failed"     // the board shell ended otherwise

	// After a switch (confirm-or-rollback).
	CauseRolledBack   Cause = "rolled-back"   // the board's health check failed: it switched back by itself
	CauseNotConfirmed Cause = "not-confirmed" // jetup could not reach the board again: it switches back by itself

	// --to-dir.
	CauseBadDir Cause = "bad-dir" // the directory cannot be written

	// The console's login key setup.
	CauseNoPublicKey  Cause = "no-public-key"  // no public key to install
	CauseBadPublicKey Cause = "bad-public-key" // the key is not one line OpenSSH takes
	CauseSSHAgent     Cause = "ssh-agent"      // the agent could not be asked
)

// Causes lists every cause id.
var Causes = []Cause{CauseUsage, CauseBadClosure, CauseBuildFailed, CauseWrongArch, CauseNoNix, CauseWrongUser,
	CauseNotInstaller, CauseNotNixOS, CauseNoSpace, CauseProbeFailed, CauseDeltaFailed, CauseCopyFailed,
	CauseConnectionLost, CauseActivationFailed, CauseRemoteFailed, CauseRolledBack, CauseNotConfirmed, CauseBadDir, CauseNoPublicKey, CauseBadPublicKey,
	CauseSSHAgent}
