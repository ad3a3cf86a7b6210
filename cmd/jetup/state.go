package main

import (
	"fmt"
	"os"

	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// state is the state directory, ready to use: made 0700 when missing and
// checked (safe.Dir) once per run. jetup pins host keys there and reads
// its run records back, so a directory another user made or may write to
// is refused, never used. With no home and no --state-dir the run gets a
// fresh private directory rather than a fixed shared one.
func (a *app) state() (string, error) {
	a.stateOnce.Do(func() {
		if a.stateDir == "" {
			dir, err := os.MkdirTemp("", "jetup-state-")
			if err != nil {
				a.stateErr = step.Refuse("state-dir", "pass --state-dir DIR, a directory you own", "no home directory and no private one: %v", err)
				return
			}
			a.stateDir = dir
			fmt.Fprintf(a.stderr, "jetup: no home directory: this run's records and pinned host keys are in %s only (pass --state-dir or set HOME to keep them)\n", dir)
		}
		if err := safe.Dir(a.stateDir); err != nil {
			a.stateErr = step.Refuse("state-dir",
				"remove it or make it yours (chmod go-w), or pass --state-dir DIR: a directory only you can write to",
				"will not keep state in %s: %v", a.stateDir, err)
		}
	})
	return a.stateDir, a.stateErr
}
