package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/remote"
)

// boardShell is an interactive bash on a real pty, as the board's serial
// getty gives one (ICRNL turns the console's \r into a newline, readline
// takes ctrl+u), in a mount namespace where /root and /etc/ssh are
// directories of the test's, so the setup touches nothing of this
// machine's. asUser runs the shell as nobody (the installer's nixos user:
// root through sudo); sudoers, when set, replaces /etc/sudoers.
type boardShell struct {
	t       *testing.T
	f       *os.File
	cmd     *exec.Cmd
	mu      sync.Mutex
	out     bytes.Buffer
	changed testkit.Changes // after each read from the pty
	done    chan struct{}
}

const boardPrompt = "[tech@board:~]$ "

func startBoardShell(t *testing.T, root, etcSSH, sudoers string, asNobody bool) *boardShell {
	t.Helper()
	script := `set -e; mount --bind "$1" /root; mount --bind "$2" /etc/ssh; [ -z "$3" ] || mount --bind "$3" /etc/sudoers; shift 3; exec "$@"`
	args := []string{"-m", "--propagation", "slave", "--", "sh", "-c", script, "sh", root, etcSSH, sudoers}
	if asNobody {
		args = append(args, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")
	}
	args = append(args, "bash", "--norc", "--noprofile", "-i")
	cmd := exec.Command("unshare", args...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=vt100", "HOME=/nonexistent",
		"HISTFILE=/dev/null", "PS1=" + boardPrompt}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	s := &boardShell{t: t, f: f, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			s.changed.Changed()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		f.Close()
		<-s.done
	})
	s.waitFor(func(out string) bool { return strings.Contains(out, boardPrompt) })
	return s
}

func (s *boardShell) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *boardShell) waitFor(ok func(string) bool) string {
	s.t.Helper()
	if !s.changed.WaitUntil(time.Minute, func() bool { return ok(s.output()) }) {
		s.t.Fatalf("waited a minute for the board's shell to get there; it printed:\n%s", s.output())
	}
	return s.output()
}

// run types p and waits until the ed25519 fingerprint has been printed n
// times in all and the prompt is back after it.
func (s *boardShell) run(p []byte, fp string, n int) string {
	s.t.Helper()
	if _, err := s.f.Write(p); err != nil {
		s.t.Fatal(err)
	}
	return s.waitFor(func(out string) bool {
		return strings.Count(out, fp) >= n && strings.Contains(out[strings.LastIndex(out, fp):], boardPrompt)
	})
}

// hostKeys makes a board's host keys with ssh-keygen -A and returns the
// directory that stands for /etc/ssh and the fingerprint of each key type.
func hostKeys(t *testing.T) (string, map[string]string) {
	t.Helper()
	base := t.TempDir()
	etc := filepath.Join(base, "etc", "ssh")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-A", "-f", base).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -A: %v\n%s", err, out)
	}
	fps := map[string]string{}
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		b, err := os.ReadFile(filepath.Join(etc, "ssh_host_"+typ+"_key.pub"))
		if err != nil {
			t.Fatal(err)
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			t.Fatal(err)
		}
		fps[typ] = remote.Fingerprint(k)
	}
	return etc, fps
}

// replies is what the shell printed, without the lines it echoed (those
// start with the prompt) and without escape codes, one line per line.
func replies(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(csi.ReplaceAllString(out, ""), "\n") {
		if l = strings.Trim(l, "\r"); !strings.Contains(l, boardPrompt) {
			b.WriteString("\n" + l + "\n")
		}
	}
	return b.String()
}

var csi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

var printedFP = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]{43}`)

func TestConsoleSetupInARealShell(t *testing.T) {
	testkit.NeedRoot(t)
	testkit.NeedCommands(t, "unshare", "bash", "ssh-keygen", "sudo", "setpriv", "mount")
	etc, fps := hostKeys(t)
	person := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(testkit.SSHKey(t)))) + " tech@bench (lab 3)!"
	key, err := ParseLoginKey(person)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(testkit.SSHKey(t)))) + " someone@else"
	typed, err := ConsoleSetup("root", &key)
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name     string
		asNobody bool
		sudoers  string // "" keeps this machine's (never reached as root)
	}{
		{"root's shell", false, ""},
		{"nixos-like user with passwordless sudo", true, "root ALL=(ALL:ALL) ALL\nnobody ALL=(ALL) NOPASSWD: ALL\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.Chmod(root, 0o700); err != nil {
				t.Fatal(err)
			}
			// A .ssh left too open, with someone else's key in it.
			sshDir := filepath.Join(root, ".ssh")
			if err := os.Mkdir(sshDir, 0o755); err != nil {
				t.Fatal(err)
			}
			ak := filepath.Join(sshDir, "authorized_keys")
			if err := os.WriteFile(ak, []byte(other+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			sudoers := ""
			if c.sudoers != "" {
				sudoers = filepath.Join(t.TempDir(), "sudoers")
				if err := os.WriteFile(sudoers, []byte(c.sudoers), 0o440); err != nil {
					t.Fatal(err)
				}
			}
			sh := startBoardShell(t, root, etc, sudoers, c.asNobody)
			sh.run(typed, fps["ed25519"], 1)
			// Twice: the key is not added again.
			out := sh.run(typed, fps["ed25519"], 2)

			b, err := os.ReadFile(ak)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != other+"\n"+person+"\n" {
				t.Errorf("authorized_keys:\n%s", got)
			}
			for path, mode := range map[string]os.FileMode{sshDir: 0o700, ak: 0o600} {
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != mode || st.Sys().(*syscall.Stat_t).Uid != 0 {
					t.Errorf("%s: mode %v uid %d, want %v root", path, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, mode)
				}
			}
			// Every host key printed, the ed25519 one last (the one the
			// console step keeps); nothing else said.
			printed := printedFP.FindAllString(out, -1)
			want := []string{fps["ecdsa"], fps["rsa"], fps["ed25519"]}
			if got := strings.Join(printed, " "); got != strings.Join(append(want, want...), " ") {
				t.Errorf("fingerprints printed %v, want %v twice", printed, want)
			}
			said := replies(out)
			for _, bad := range []string{"jetup:", "sudo:", "rror", "denied", "event not found"} {
				if strings.Contains(said, bad) {
					t.Errorf("the shell said %q:\n%s", bad, out)
				}
			}
		})
	}
}

func TestConsoleSetupSaysSoWhenSudoWantsAPassword(t *testing.T) {
	testkit.NeedRoot(t)
	testkit.NeedCommands(t, "unshare", "bash", "ssh-keygen", "sudo", "setpriv", "mount")
	etc, fps := hostKeys(t)
	key, err := ParseLoginKey(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(testkit.SSHKey(t)))) + " tech@bench")
	if err != nil {
		t.Fatal(err)
	}
	typed, _ := ConsoleSetup("root", &key)
	root := t.TempDir()
	sudoers := filepath.Join(t.TempDir(), "sudoers")
	if err := os.WriteFile(sudoers, []byte("root ALL=(ALL:ALL) ALL\nnobody ALL=(ALL) ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	sh := startBoardShell(t, root, etc, sudoers, true)
	out := sh.run(typed, fps["ed25519"], 1)
	if said := replies(out); !strings.Contains(said, "\njetup: the key was not installed for root\n") || !strings.Contains(said, "sudo: a password is required") || strings.Contains(out, "assword:") {
		t.Errorf("a sudo that wants a password: no clear failure, or it asked:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(root, ".ssh")); err == nil {
		t.Error("made /root/.ssh without root")
	}
	// The host keys are still printed.
	if got := printedFP.FindAllString(out, -1); len(got) != 3 || got[2] != fps["ed25519"] {
		t.Errorf("fingerprints %v", got)
	}
}
