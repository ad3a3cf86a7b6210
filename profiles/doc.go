// Package profiles holds the board profiles: what jetup knows about each
// board it can bring up (recovery ids and procedure, debug console, the
// jetpack-nixos flake attributes, which steps apply). Profiles are YAML files
// embedded from assets/profiles, and user files in
// $XDG_CONFIG_HOME/jetup/profiles that add boards or override them by name.
//
// # In detail
//
// profiles: board profiles: schema, loading from the embedded files and
// from `$XDG_CONFIG_HOME/jetup/profiles`, `base:` inheritance, validation
// with file:line errors (unknown keys, missing fields, bad USB ids,
// duplicate names). `Board` (board.go) is what the hardware says about
// itself (SoC, module and carrier part numbers, flash target, boardspec,
// device tree and its model, the Pi's U-Boot board line) and `Releases` the
// L4T and kernel of each JetPack major: the data the console checks and the
// simulated bench prints. `Trap` (traps.go) is a known problem shown at the
// step where it bites (`TrapsAt`, `TrapsForFirmware`): the console session
// emits them as warnings, push and write print theirs. Imports `step`.
//
// # Why
//
//   - go.yaml.in/yaml/v3 (the maintained fork of gopkg.in/yaml.v3): its node
//     tree gives every key's line, which the profile validator needs for
//     file:line errors.
package profiles
