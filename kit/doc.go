// Package kit is the field kit (issue 20): everything a board's bring-up
// builds (the flash script, the installer, a system closure), prepared
// while online and pinned in the Nix store, so that every step runs later
// with no network at all.
//
// A kit lives under the state dir in kits/NAME/: kit.json (the manifest:
// the profile, each artifact's flake ref and locked revision, store path,
// size and time) and one symbolic link per artifact (flash, installer,
// system) plus src/ with the flakes' sources and inputs (`nix flake
// archive`), each made by `nix build --out-link`, so each is a real
// indirect GC root that `nix-store --gc` keeps.
//
// Prepare makes or refreshes a kit; Inspect tells whether one is whole
// (every link in place and registered as a root, every path of every
// closure in the store) and Current whether its flakes' locks moved since.
// Resolver is the offline side: the Nix runner's Prebuilt hook, which
// hands each build its artifact from the newest whole kit, or refuses it
// before nix starts. Every nix call goes through nixrun.
//
// # In detail
//
// kit: field kits (issue 20): a board's bring-up prepared while online,
// run with no network. `Prepare` (`jetup prepare`) plans what the profile's
// steps build (flash script, installer or `--image`, `--system` FLAKE#NAME
// or path), locks each flake (`nix flake metadata`), evaluates everything at
// once (`nix build --dry-run`: an installable that does not evaluate, or a
// fetch larger than the store's free space, is refused before anything is
// built), archives the flakes' sources and inputs (`nix flake archive`),
// builds each artifact from the locked ref, and pins every result with `nix
// build --out-link` (real indirect GC roots) under `<state>/kits/KIT/`
// (links `flash`, `installer`, `system`, `src/source-N`) with `kit.json`,
// the manifest (profile, each artifact's ref, lock, store path, sizes,
// time). The new links are pinned in `.staging/` first and the kit switches
// over only when all is built, so a failed prepare leaves the old kit whole;
// a kit directory jetup cannot read (edited by hand, foreign files) is
// refused, never overwritten; a flock per kit keeps two jetups apart.
// `Inspect` says whether a kit is whole (each link in place, pointing at its
// path and registered in gcroots/auto; each root valid and every closure
// path on disk: `nix path-info` against the local store only), `Current`
// whether it is stale (the profile's refs or a flake's lock moved; offline
// not asked), with the refresh command; `Judge` is doctor's `field-kit`.
// Offline (the global `--offline`, or `NoRoute`: no default route in
// /proc/net/route and ipv6_route) the run's Nix gets `Offline` and the
// `Resolver`'s `Prebuilt`: each build is given its artifact from the newest
// whole kit (the profile's first), or refused (`not-in-kit`, exit 2) before
// nix starts; the CLI asks `Resolver.Need` before a step starts, so the
// refusal comes first. Names of kits go through `safe.Name`. Imports `step`,
// `nixrun`, `profiles`, `safe`.
package kit
