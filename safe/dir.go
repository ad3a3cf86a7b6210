package safe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// A directory jetup keeps state in (pinned host keys, run records, user
// profiles) decides what jetup trusts, so another user must not be able to
// have made it, or to change it, or to swap it for another. OpenSSH applies
// the same rule to ~/.ssh (StrictModes).

// UntrustedError says why a directory or file cannot be trusted.
type UntrustedError struct {
	Path string
	Why  string
}

func (e *UntrustedError) Error() string { return e.Path + " " + e.Why }

// Dir makes dir ready to keep state in: it creates it (0700, with any
// missing parents 0700) when missing, then checks it with CheckDir.
func Dir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return CheckDir(dir)
}

// CheckDir checks that dir may be trusted: it belongs to this user (or
// root), no one else may write to it, and every directory above it belongs
// to this user or root and is writable by no one else unless it is sticky
// (like /tmp, where others cannot rename or remove what is ours). Symbolic
// links are followed first; the real path is what is checked. A missing
// dir is an error that wraps fs.ErrNotExist.
func CheckDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &UntrustedError{Path: dir, Why: "is not a directory"}
	}
	if err := checkOwner(dir, fi); err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return &UntrustedError{Path: dir, Why: fmt.Sprintf("can be written to by other users (mode %04o)", fi.Mode().Perm())}
	}
	for p := filepath.Dir(real); ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if err := checkOwner(p, fi); err != nil {
			return err
		}
		if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
			return &UntrustedError{Path: p, Why: fmt.Sprintf("(above %s) can be written to by other users (mode %04o): they could swap what is below it", dir, fi.Mode().Perm())}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// CheckFile checks a file jetup trusts (a known_hosts, a profile): a
// regular file that belongs to this user (or root) and that no one else
// may write to (a symbolic link is judged by what it points to). A missing
// file is not an error: the caller creates it in a directory CheckDir
// passed.
func CheckFile(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &UntrustedError{Path: path, Why: "is not a regular file"}
	}
	if err := checkOwner(path, fi); err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return &UntrustedError{Path: path, Why: fmt.Sprintf("can be written to by other users (mode %04o)", fi.Mode().Perm())}
	}
	return nil
}

// checkOwner accepts this user, root, and under sudo the user who ran sudo
// (their own state, which they asked root to use).
func checkOwner(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return &UntrustedError{Path: path, Why: "has no owner jetup can read"}
	}
	if trustedUID(st.Uid) {
		return nil
	}
	return &UntrustedError{Path: path, Why: fmt.Sprintf("belongs to %s, not to you (%s)", userName(st.Uid), userName(uint32(os.Geteuid())))}
}

func trustedUID(uid uint32) bool {
	euid := os.Geteuid()
	if uid == 0 || int64(uid) == int64(euid) {
		return true
	}
	if euid != 0 {
		return false
	}
	sudo, err := strconv.ParseUint(os.Getenv("SUDO_UID"), 10, 32)
	return err == nil && uint32(sudo) == uid
}

func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}

// Home is the user's home directory: $HOME, else the one the password
// database gives (OpenSSH's choice too; a service or `env -i` may have no
// HOME). "" when neither is known.
func Home() string {
	if h := os.Getenv("HOME"); h != "" {
		return h
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" && u.HomeDir != "/nonexistent" {
		return u.HomeDir
	}
	return ""
}
