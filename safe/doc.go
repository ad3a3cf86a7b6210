// Package safe holds the three rules jetup applies to everything that comes
// from outside it: which directories it may keep state in (Dir), which
// names may become a path (Name), and what text may reach a terminal
// (Text). Each rule is here once, so every caller gets the same answer.
//
// # In detail
//
// safe: the rules for what comes from outside, each in one place. `Dir`,
// `CheckDir`, `CheckFile`: a directory jetup keeps state in (the state dir
// with its known_hosts and run records, the user profiles) must belong to
// this user or root (or, under sudo, to SUDO_UID), be writable by no one
// else, and so must every directory above it unless sticky (OpenSSH's
// StrictModes rule); `Home` is $HOME, else the password database's. `Name`:
// a name that becomes a path component (profile, run id, flash attribute,
// log name; kits and labels next) is `[A-Za-z0-9][A-Za-z0-9._-]*`, at most
// 100 bytes. `Text` removes escape sequences (x/ansi's parser), every other
// control but tab and newline, and bidi overrides from what is printed;
// `Writer` applies it to the headless face's stdout and stderr (the live
// console's stream alone goes raw). `ReadFile(path, max)`: every file
// jetup reads whole (records, manifests, profiles, keys, sums, bmaps,
// sysfs attributes) is opened O_NONBLOCK (a FIFO's open does not wait for
// a writer), refused unless fstat says regular (a FIFO, /dev/zero, a
// directory), and refused past max bytes with "X is N bytes; jetup reads
// at most M from it" (ErrTooLarge, ErrNotRegular for callers that answer
// with a cause id); procfs files that stat as 0 bytes are still read to
// max+1. `Open` is that open alone, for a reader of part of a file (a
// log's tail). Imports nothing of ours.
package safe
