package proc

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// User is who a command runs as. Run as root (sudo jetup write), jetup
// keeps root for what needs it (opening the disk) and runs the rest (the
// installer's nix build, the decompressors) as the person who ran sudo.
type User struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups (nix-users, say); nil: none
	Name     string   // USER and LOGNAME ("" leaves them)
	Home     string   // HOME ("" leaves it)
}

// Invoking is the person who ran sudo when jetup runs as root under sudo
// (SUDO_UID and SUDO_GID, not root), with the home and groups the password
// database gives; nil otherwise (then jetup runs everything as itself).
func Invoking() *User {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, err1 := strconv.ParseUint(os.Getenv("SUDO_UID"), 10, 32)
	gid, err2 := strconv.ParseUint(os.Getenv("SUDO_GID"), 10, 32)
	if err1 != nil || err2 != nil || uid == 0 {
		return nil
	}
	u := &User{UID: uint32(uid), GID: uint32(gid)}
	if pw, err := user.LookupId(strconv.FormatUint(uid, 10)); err == nil {
		u.Name, u.Home = pw.Username, pw.HomeDir
		ids, _ := pw.GroupIds()
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil && n != gid {
				u.Groups = append(u.Groups, uint32(n))
			}
		}
	}
	return u
}

// Apply makes cmd run as u: its uid, gid and groups, and its HOME, USER
// and LOGNAME. A nil u changes nothing. Call it before Start, after
// anything that sets cmd.Env.
func (u *User) Apply(cmd *exec.Cmd) {
	if u == nil {
		return
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	// Later entries win (os/exec keeps the last of a name).
	if u.Home != "" {
		cmd.Env = append(cmd.Env, "HOME="+u.Home)
	}
	if u.Name != "" {
		cmd.Env = append(cmd.Env, "USER="+u.Name, "LOGNAME="+u.Name)
	}
}
