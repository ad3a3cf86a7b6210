// Package deploy pushes a built NixOS system to a board over SSH and
// activates it: the wizard's last step and `jetup push`.
//
// The sequence: build or resolve the system toplevel; trust the board's
// host key (pinned in jetup's own known_hosts, never "accept anything");
// open one multiplexed OpenSSH connection; run one probe script for
// preflight (architecture, Nix, store access, installer or installed,
// free space) and the delta (one `nix-store --check-validity` for the whole
// closure); refuse before a byte is sent when the board cannot take the
// system; `nix copy` over ssh-ng:// with progress read from its
// internal-json log; then activate (nixos-install onto /mnt, or profile and
// switch-to-configuration under systemd-run).
//
// # In detail
//
// deploy: `Push` sends a system toplevel to a board over SSH and
// activates it; `ToDir` writes it as a zstd binary cache for an offline
// board. Its edge (`deploy.Edge`) is this machine's Nix (`NixCLI`: build,
// path-info, copy through the Nix runner) and a `Dialer` (`OpenSSH`). One
// OpenSSH ControlMaster connection per push; its own session is the *board
// shell* (`BoardScript`), which reads the closure's path list, prints the
// probe (architecture, Nix, root or sudo, installer or installed, free
// space) and the delta (one `nix-store --check-validity --print-invalid` for
// the whole list), then waits on stdin while jetup judges it. `nix copy --to
// ssh-ng://` starts through the same connection as soon as it is up, but its
// `remote-program` is a gate: on the board it waits until the board shell,
// told "copy" once preflight passed, writes the sudo and store (/mnt on the
// installer) it found; "nocopy" makes it give up. (A push whose board
// fetches from a binary cache, Options.Cache, starts no such copy: the
// board shell, told "fetch", runs `nix copy --from` itself, its lines
// through one awk, fetchFilter.) "go" then makes the board
// shell activate at once (profile, then switch-to-configuration under
// systemd-run; or nixos-install onto /mnt). With 50 ms of latency every ssh
// session costs several round trips, so a push opens two (the board shell
// and nix's) and overlaps nix's start-up with the probe. Reaching the board,
// and whose host key to trust, is `remote`'s (below). nix's log is read by
// the Nix runner's reader (`nixrun.Log`); the build's progress is its
// tracker's, the copy's is `CopyTracker`'s: paths finished weighted by NAR
// size, bytes within a path when Nix >= 2.15 reports them, rate and ETA over
// the last five seconds. The login itself (loginkey.go, consolesetup.go):
// `FindLoginKey` finds the public key the push logs in with (the identity's
// .pub, else `~/.ssh/id_{ed25519,ecdsa,rsa}.pub`, else the ssh-agent's first
// key, asked over `SSH_AUTH_SOCK` with x/crypto's agent client) and never
// opens a private key; `ParseLoginKey` refuses quotes and control
// characters; `ConsoleSetup` is the text typed at the board's shell through
// its serial console (the wizard's Watch `k`, `jetup console --setup-ssh`):
// the key appended to the user's authorized_keys (700/600, `sudo -n` unless
// root, no duplicate) and `ssh-keygen -lf` on every host key, ed25519 last.
// Its error cause ids are typed (`Cause`, cause.go). Imports `step`, `proc`,
// `nixrun`, `remote`. After a switch on a board with an earlier generation
// (confirm.go, deploy-rs's magic rollback done on the board): the board
// shell starts a switch job detached (systemd-run, else its own session)
// that activates, checks health (systemd, `--health`) and waits for a canary
// under /run to be removed; jetup redials (`remote.Redial`) and removes it,
// or the job switches back to the recorded previous generation and deletes
// the new one.
//
// # Why
//
//   - Push drives the OpenSSH client and `nix copy` rather than speaking SSH
//     or the Nix daemon protocol in Go: every anchor tool does the same, the
//     user's keys and agent work as they do in ssh, and Nix's ssh-ng transport
//     (one batched upload per closure) is what makes high-latency links fast.
//     golang.org/x/crypto/ssh (pinned in the foundation's go.mod) only reads a
//     new board's host key; its `knownhosts` package reads the same file
//     OpenSSH checks.
package deploy
