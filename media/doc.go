// Package media writes installer media: it finds the disks of this machine
// and says which may be written (never the system disk, never the disk that
// holds the image, only USB sticks and SD cards unless told otherwise), reads
// raw and compressed images (zstd, xz, gzip, bzip2) and bmaptool's .bmap
// files, checks checksums before the target is touched, writes through a
// pipeline (decompression and several O_DIRECT writes in flight), reads
// everything back to verify it, and leaves a receipt.
//
// The hardware edge is Edge: System is this machine's /sys, /proc and /dev;
// the simulated bench puts a stick backed by a temp file in its place.
//
// # In detail
//
// media: the installer writer (`jetup write`, the wizard's Write step).
// `System` (edge.go) is the block-device edge: disks from `/sys/block` with
// partitions, holders (dm, md) and mounts from `/proc/self/mountinfo` and
// `/proc/swaps`, udev's `ID_PATH`/`ID_SERIAL_SHORT` when present, hotplug
// from kernel uevents (netlink) with a polling fallback; its root is movable
// so the tests run on fake sysfs trees. `Check` (rules.go) gives every disk
// its reasons (`system-disk`, `image-disk`, `read-only`, `no-media`, `held`,
// `fixed-disk`, `too-small`, and `mounted`, the one consent lifts).
// `Prepare` checks the image (format by magic bytes, size from zstd frame
// headers or the xz index), its `.bmap` and checksum source, the target and
// reads what is on it (probe.go: `disklabel` through a reader that aligns
// every read for O_DIRECT; a damaged table is shown as damaged in the
// confirmation and in `write --list`'s `holds`); `Plan.Execute` checks the
// checksum before the target is touched, re-checks the disk's identity
// (serial, size, model, maj:min, port, backing file), unmounts with consent
// (only the mount the scan saw: the parent opened with no symlink in the
// path, the mount's id and device checked with statx, the unmount through
// that fd with UMOUNT_NOFOLLOW), opens `O_EXCL|O_DIRECT` under
// `flock(LOCK_EX)` and re-checks the device number and size on the open fd,
// then runs the engine (engine.go): a reader fills page-aligned buffers from
// the decompressor, a hasher takes an XXH3-64 sum of every 64 KiB block
// (digest.go; zeebo/xxh3) and checks each bmap range's checksum, and several
// writers `pwrite` in parallel; unaligned tails are written buffered at the
// end, then fdatasync. With a bmap the gaps it leaves out are zeroed only
// where the device does it without writing (fallocate PUNCH_HOLE|KEEP_SIZE
// on the block device: a zero-out that never falls back to writing zero
// pages); elsewhere they are left as they were, as bmaptool leaves them, and
// the receipt's `bmap.gaps` says which. The file's SHA-256 (the receipt's
// image hash, what a published IMAGE.sha256 covers) is its own stage
// (`fileDigest`) fed with the file's bytes as the decompressor reads them;
// it must equal the hash the checksum check saw (`image-changed` otherwise).
// Verify (verify.go) drops the device's buffers (BLKFLSBUF), reads every
// chunk back with O_DIRECT, the first block included, compares each block's
// sum in the reading goroutines, and names the first differing byte (the
// block at once, the byte by decoding the image up to it). zstd and gzip
// decode with klauspost/compress, xz through `xz -dc -T0` (the file is its
// stdin, so no copy through jetup) with ulikunitz/xz as the fallback, bzip2
// through lbzip2/pbzip2/bzip2 or compress/bzip2. The events (`Stage`,
// `Progress`, `RateSample`) are the `--json` lines; the `Receipt` goes to
// the run record. `NixBuilder` builds the profile's installer through the
// Nix runner: its progress as `BuildProgress` events (as flash's build shows
// it), what `nix build -L` would print as `step.Log` lines. Imports `step`,
// `proc`, `nixrun`, `profiles` (and `disklabel`).
//
// # Why
//
//   - media reads sysfs and the udev database itself rather than through
//     jaypipes/ghw (it would still need RPi's USB/MMC removable rule, holders
//     and mounts added) or libudev (cgo); hotplug is a raw netlink socket
//     instead of pilebones/go-udev (GPL-3.0). klauspost/compress for zstd and
//     gzip (the fastest pure-Go decoders, concatenated frames, long windows);
//     `xz -T0` when present because it is many times faster than any pure-Go
//     xz (ulikunitz/xz is the fallback). No Go bmap library exists; the format
//     is a small XML file.
package media
