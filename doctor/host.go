package doctor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/proc"
)

// Host is what the checks read and what the fixes change. OSHost is the real
// machine; MemHost is an in-memory one for tests and --sim.
type Host interface {
	// Machine is the hardware name as uname -m gives it ("x86_64").
	Machine() string
	ReadFile(path string) ([]byte, error)
	Glob(pattern string) ([]string, error)
	LookPath(name string) (string, error)
	// Run runs a command and returns its standard output; stdin may be nil.
	Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)
	// FreeBytes is the space available to unprivileged users at path.
	FreeBytes(path string) (uint64, error)
	User() (User, error)
	// Processes lists the command names of running processes.
	Processes() ([]string, error)
	Getenv(key string) string
}

// User is the person running jetup.
type User struct {
	Name   string
	UID    int
	Home   string
	Groups []string
}

// Root reports whether the user is root.
func (u User) Root() bool { return u.UID == 0 }

// InGroup reports membership of group g.
func (u User) InGroup(g string) bool {
	for _, x := range u.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// OSHost is this machine.
type OSHost struct {
	Runner proc.Runner
}

func (h OSHost) runner() proc.Runner {
	if h.Runner == nil {
		return proc.Host{}
	}
	return h.Runner
}

// Machine returns uname's machine field.
func (OSHost) Machine() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Machine[:])
}

// ReadFile is os.ReadFile.
func (OSHost) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

// Glob is filepath.Glob.
func (OSHost) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// LookPath finds name in PATH, then in the places Nix and sudo live when a
// login shell has not set PATH up (jetup run from a desktop launcher, or
// under sudo's secure_path).
func (h OSHost) LookPath(name string) (string, error) {
	if p, err := h.runner().LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/nix/var/nix/profiles/default/bin", "/run/current-system/sw/bin", "/run/wrappers/bin", "/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH", name)
}

// Run runs name with args and returns stdout; on failure the error carries
// the end of stderr.
func (h OSHost) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := h.runner().Command(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	// Bounded: a host tool's output is read whole, but kept only up to
	// what a check could use.
	stdout, stderr := &proc.CappedBuffer{Max: 16 << 20}, &proc.CappedBuffer{Max: 1 << 20}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	out := stdout.Bytes()
	if err == nil && stdout.Full() {
		err = fmt.Errorf("printed more than %d bytes", stdout.Max)
	}
	if err != nil {
		msg := strings.TrimSpace(string(stderr.Bytes()))
		if len(msg) > 300 {
			msg = msg[len(msg)-300:]
		}
		if msg != "" {
			return out, fmt.Errorf("%s: %w: %s", name, err, msg)
		}
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// FreeBytes uses statfs.
func (OSHost) FreeBytes(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// User returns the current user and group names.
func (OSHost) User() (User, error) {
	u, err := user.Current()
	if err != nil {
		return User{UID: os.Getuid()}, err
	}
	out := User{Name: u.Username, UID: os.Getuid(), Home: u.HomeDir}
	gids, _ := u.GroupIds()
	for _, gid := range gids {
		if g, err := user.LookupGroupId(gid); err == nil {
			out.Groups = append(out.Groups, g.Name)
		}
	}
	return out, nil
}

// Processes reads /proc/*/comm.
func (OSHost) Processes() ([]string, error) {
	files, err := filepath.Glob("/proc/[0-9]*/comm")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the process ended while we looked
		}
		names = append(names, strings.TrimSpace(string(b)))
	}
	return names, nil
}

// Getenv is os.Getenv.
func (OSHost) Getenv(key string) string { return os.Getenv(key) }

// runAsRoot runs a command directly when the user is root and through
// `sudo` otherwise: only the commands that need root get it.
func runAsRoot(ctx context.Context, h Host, u User, stdin []byte, name string, args ...string) ([]byte, error) {
	if u.Root() {
		return h.Run(ctx, stdin, name, args...)
	}
	return h.Run(ctx, stdin, "sudo", append([]string{name}, args...)...)
}
