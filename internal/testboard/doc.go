// Package testboard makes a board on this machine for the push tests and
// benchmarks: a network namespace (a veth pair, 192.168.N.1 inside,
// 192.168.N.100 outside) and a private mount namespace whose /nix is an
// empty directory of the test's, running Debian's real openssh-server
// (key-only, its own host key) and Debian's real Nix. It needs root,
// iproute2, unshare, sshd and nix; tests call Need first.
//
// # In detail
//
// internal/testboard: a board made on this machine for the push tests
// and benchmarks: a network namespace (veth, 192.168.N.1; N from 55 up,
// locked per subnet so parallel packages do not collide) and a private mount
// namespace with its own empty /nix, running Debian's sshd (key-only, own
// host key) and Nix; `Build` makes a toplevel-like derivation (`system`,
// `nixos-version`, a `bin/switch-to-configuration` that records its call);
// `Relay` adds latency in userspace (this kernel has no sch_netem);
// `NewLink` with `HoldAfter` holds a connection after N bytes towards the
// board until `Release`, so a test cuts a copy at a byte it chose (`Held`).
// The board is up when its sshd says it listens (its log read from stderr).
// For verify's tests a board can run a NixOS system (`System`: the
// /run/current-system, /run/booted-system and profile links; `BootEntry`),
// carry its own tools in that system's sw/bin (`Tools`), have its own /dev
// with real character devices for a Jetson's GPU nodes (`DevNodes`), and
// `Tmpfs`, `Dirs` and `Links` (a test's directory where the board looks).
// `HostSideInto` moves this side of the veth into another namespace (a
// laptop whose only network is the board's cable). The update tests use
// `Tools` for the board's systemd-sysupdate and swupdate (scripts printing
// the real tools' output shapes) and `Etc`, a private copy of /etc with
// files added (/etc/hwrevision, sysupdate transfer files). `CPU` gives a
// board a processor of its own (a cgroup's CFS quota over its sshd and so
// every session), and `NewCPUBudget` any process: a benchmark of several
// boards then compares like with like on a machine whose cores they share.
package testboard
