package kit

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// lockKit holds kit name's lock (kits/.NAME.lock, flock) while a prepare
// or a removal changes it; another jetup doing the same is refused at
// once rather than left waiting behind a build of hours.
func lockKit(state, name string) (func(), error) {
	dir := Dir(state)
	if err := safe.Dir(dir); err != nil {
		return nil, step.Refuse(string(CauseState), "pass --state-dir with a directory only you can write to", "will not keep kits in %s: %v", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "."+name+".lock"), os.O_CREATE|os.O_RDWR|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, step.Refuse(string(CauseState), "check the state directory's permissions", "cannot lock kit %s: %v", name, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, step.Refuse(string(CauseBusy), "wait for the other jetup to finish (or stop it), then run this again",
				"another jetup is preparing or removing kit %s", name)
		}
		return nil, step.Refuse(string(CauseState), "check the state directory's file system", "cannot lock kit %s: %v", name, err)
	}
	return func() { f.Close() }, nil
}
