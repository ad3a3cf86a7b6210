package doctor

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

// MemHost is a host held in memory: files, commands with canned output, a
// user, processes. Tests use it to put each check in each state; --sim uses
// it as the demo bench's host. Run records every command it is asked to run.
type MemHost struct {
	mu       sync.Mutex
	Arch     string
	Files    map[string]string
	Commands map[string]string // "nix --version" -> stdout; a missing key fails
	Paths    map[string]string // program -> path for LookPath
	Free     map[string]uint64 // path -> bytes free (longest prefix wins)
	Usr      User
	Procs    []string
	Env      map[string]string
	Fails    map[string]string // command line -> error text: these fail even if known
	Ran      []string          // every command line Run was asked for
}

// Machine returns Arch.
func (m *MemHost) Machine() string { return m.Arch }

// ReadFile returns Files[path].
func (m *MemHost) ReadFile(p string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.Files[p]; ok {
		return []byte(s), nil
	}
	return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
}

// Glob matches pattern against the file names.
func (m *MemHost) Glob(pattern string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for p := range m.Files {
		if ok, _ := path.Match(pattern, p); ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// LookPath returns Paths[name].
func (m *MemHost) LookPath(name string) (string, error) {
	if p, ok := m.Paths[name]; ok {
		return p, nil
	}
	return "", fmt.Errorf("%s: not found in PATH", name)
}

// Run records the command line and returns Commands[line]. Writing commands
// (install, tee) also change Files so a fix can be checked again.
func (m *MemHost) Run(_ context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	m.mu.Lock()
	m.Ran = append(m.Ran, line)
	if msg, bad := m.Fails[line]; bad {
		m.mu.Unlock()
		return nil, fmt.Errorf("%s: %s", line, msg)
	}
	out, ok := m.Commands[line]
	bare := args
	if name == "sudo" && len(args) > 0 {
		bare = args[1:]
		name = args[0]
	}
	if name == "tee" && len(bare) > 0 && stdin != nil {
		dest := bare[len(bare)-1]
		if bare[0] == "-a" {
			m.Files[dest] += string(stdin)
		} else {
			m.Files[dest] = string(stdin)
		}
		ok = true
	}
	if name == "usermod" && len(bare) == 3 && bare[0] == "-aG" {
		m.Usr.Groups = append(m.Usr.Groups, bare[1])
		ok = true
	}
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%s: exit status 1", line)
	}
	return []byte(out), nil
}

// FreeBytes returns the entry with the longest prefix of p.
func (m *MemHost) FreeBytes(p string) (uint64, error) {
	best, n := -1, uint64(0)
	for prefix, free := range m.Free {
		if strings.HasPrefix(p, prefix) && len(prefix) > best {
			best, n = len(prefix), free
		}
	}
	if best < 0 {
		return 0, &fs.PathError{Op: "statfs", Path: p, Err: fs.ErrNotExist}
	}
	return n, nil
}

// User returns Usr.
func (m *MemHost) User() (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Usr, nil
}

// Processes returns Procs.
func (m *MemHost) Processes() ([]string, error) { return m.Procs, nil }

// Getenv returns Env[key].
func (m *MemHost) Getenv(key string) string { return m.Env[key] }
