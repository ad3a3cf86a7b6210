// Package assets holds the data embedded in the jetup binary: the board
// profiles, the udev rule that doctor --fix installs, and real transcripts.
//
// # In detail
//
// assets: embedded data: the profile files and the udev rule. No
// imports.
package assets
