// Package bundle makes, applies and takes home offline updates for boards on
// thin links (`jetup bundle`, `jetup apply`, `jetup boards`, `jetup manifest`).
//
// # In detail
//
// bundle: offline updates for boards on thin links. `Manifest` is a
// board's store state (the valid paths of its profile's generations with NAR
// hash and size, current system, generations, last applied sequence, delta
// decoder), parsed as hostile input (`ParseManifest`: bounded, every path a
// store path, every fingerprint SHA256); `NarHash` compares Nix's three hash
// spellings as bytes. `Mirror` is the home mirror under
// `<state>/boards/<fingerprint>/` (board.json, manifest.json byte for byte
// as the board printed it, bundles/<seq>.json, receipts/; a lock per board).
// `Write` makes a bundle: the closure's path-info, the paths the manifest
// lacks, `nix copy --no-recursive` into a zstd file:// cache signed by the
// key (stand-in narinfos for the paths they refer to, removed after), the
// header (header.go: "key value" lines, a one-file NAR and narinfo signed by
// `nix store sign`; not content-addressed, since Nix trusts those unsigned),
// the tar and the script laid out so each --split part is its own checked
// range (assemble.go). Deltas (delta.go): for a board whose manifest names a
// decoder, a sent path matched by name (Nix's parseDrvName rule) to a board
// path that this machine has with the same NAR hash goes as `zstd
// --patch-from` of the two NARs (`nix store dump-path`) when smaller; the
// board rebuilds and checks it against the signed NarHash before importing.
// `Receive` (receipt.go) takes a board's receipt home: the manifest becomes
// the old one plus the bundle's recorded closure (bundles/<seq>.json) less
// what the board collected. The board side is POSIX sh embedded from
// prelude.sh, manifest.sh and apply.sh; the bundle carries them after a vars
// block (`BundleScript`), `Collect` runs the manifest over `remote.Connect`
// (the pinned key must be one of the host keys the board lists; cmd/jetup
// calls it after a push, so deploy does not import bundle), and `Apply`
// (jetup apply) runs jetup's own copy with the bundle's vars (`ReadVars`,
// checked). Imports `step`, `remote`, `nixrun`, `proc`.
package bundle
