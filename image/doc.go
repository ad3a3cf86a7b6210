// Package image tells what an image or update bundle is before anything
// is written or sent (`jetup inspect`), checks an image against the board
// it is written for (the write step's board check), and applies updates to
// a booted board over the pinned SSH connection (`jetup update`:
// systemd-sysupdate directories and SWUpdate .swu bundles).
//
// Everything it reads is hostile: partition tables and file systems are
// read through disklabel (bounded), compressed images through media's own
// decompressors, reading only as far as needed; cpio headers and
// sw-description are parsed with every size bounded.
//
// # In detail
//
// image (`jetup inspect`, the board check of `write`, `jetup update`):
// `Inspect` tells a disk image, a `.swu` (cpio magic) and a sysupdate
// directory apart and returns a `Report` (the `--json` format). Disk images
// are read through `disklabel`; a compressed one through media's own
// `Image.Open` (the decompressors write uses) behind a `spool`: an
// io.ReaderAt that reads the stream forward only as far as the furthest byte
// asked for, keeps what was asked for in an unlinked sparse temp file (zero
// pages are holes) and reopens the stream at most three times when a read
// goes back. The boot chain comes from the FAT partitions (`disklabel.FAT`)
// and an ISO's file system (`disklabel.ISO`): Pi firmware files and
// config.txt, RPI_EFI.fd, systemd-boot, UKIs (their PE `.osrel`/`.uname`,
// pe.go), the EFI removable path, GRUB, extlinux, an ISO's kernel banner.
// swu.go reads a bundle once (every cpio header, sha256 and crc sum; names,
// sizes, entries bounded) and libconfig.go is a small bounded parser for
// sw-description (no maintained Go module exists). sysupdate.go checks a
// directory against SHA256SUMS. `CheckBoard` weighs a report against the
// profile's `image:` rules (profile YAML: `table: mbr`, `boot_any`,
// `pi_model`, `arch`, `kernel` per JetPack) and `PrepareWrite` (both faces
// of the write step call it) inspects the image, emits warnings with their
// next step, refuses what the board cannot boot (exit 2, nothing written;
// `--ignore-board-check`), then runs `media.Prepare` and puts the two-line
// `Brief` in the plan's `Notes`. `Update` (update.go, boardshell.go) is
// `jetup update`: the local checks (inspect's, then gpgv or openssl for a
// signature when a key is given), then one `remote.Connect` whose script is
// the update's board shell: it prints the board's facts (`jetup:key=value`:
// arch, /etc/hwrevision, version, updaters, the sysupdate [Source] Path=,
// files already there with their sha256, free space) and then reads commands
// on stdin (`recv NAME SIZE SHA256` plus the bytes, checked on the board
// before the file is moved into place; `apply`; `reboot`; `quit`), so
// copying, applying and rebooting share one connection. `Edge` is its
// hardware edge (the SSH dialer, the runner for gpgv and openssl). Imports
// `media` (allowed: the same bytes write writes), `remote`, `disklabel`,
// `step`, `proc`.
package image
