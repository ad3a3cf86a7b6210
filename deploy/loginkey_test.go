package deploy

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/step"
)

// keygen makes a real key pair with ssh-keygen at path (and path.pub).
func keygen(t *testing.T, path, typ, comment string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-C", comment, "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(pub))
}

// startAgent runs a real ssh-agent on a socket of its own and returns the
// socket; the agent is killed when the test ends.
func startAgent(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// It listens on the socket before it prints the SSH_AUTH_SOCK line.
	first := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		first <- line
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case line := <-first:
		if !strings.HasPrefix(line, "SSH_AUTH_SOCK="+sock+";") {
			t.Fatalf("ssh-agent said %q", line)
		}
	case <-time.After(time.Minute):
		t.Fatal("waited a minute for ssh-agent to say its socket is ready")
	}
	if _, err := os.Stat(sock); err != nil {
		t.Fatal(err)
	}
	return sock
}

func sshAdd(t *testing.T, sock, key string) {
	t.Helper()
	cmd := exec.Command("ssh-add", key)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
}

func causeOf(err error) string {
	if e, ok := err.(*step.Error); ok {
		return e.Cause
	}
	return ""
}

func TestFindLoginKeyPrefersFilesInOpenSSHOrder(t *testing.T) {
	testkit.NeedCommands(t, "ssh-keygen")
	ctx := context.Background()
	home := t.TempDir()
	rsa := keygen(t, filepath.Join(home, ".ssh", "id_rsa"), "rsa", "tech@bench-rsa")
	k, err := FindLoginKey(ctx, KeyLookup{Home: home, AgentSocket: "none"})
	if err != nil || k.Line != rsa || k.Type != "ssh-rsa" || k.Source != filepath.Join(home, ".ssh", "id_rsa.pub") {
		t.Fatalf("only id_rsa: %+v %v", k, err)
	}
	ecdsa := keygen(t, filepath.Join(home, ".ssh", "id_ecdsa"), "ecdsa", "tech@bench-ecdsa")
	if k, _ := FindLoginKey(ctx, KeyLookup{Home: home, AgentSocket: "none"}); k.Line != ecdsa {
		t.Errorf("ecdsa before rsa: got %+v", k)
	}
	ed := keygen(t, filepath.Join(home, ".ssh", "id_ed25519"), "ed25519", "tech@bench")
	k, _ = FindLoginKey(ctx, KeyLookup{Home: home, AgentSocket: "none"})
	if k.Line != ed || !strings.HasPrefix(k.Fingerprint, "SHA256:") {
		t.Errorf("ed25519 first: got %+v", k)
	}
	// ssh-keygen agrees on the fingerprint.
	out, _ := exec.Command("ssh-keygen", "-lf", filepath.Join(home, ".ssh", "id_ed25519.pub")).Output()
	if !strings.Contains(string(out), k.Fingerprint) {
		t.Errorf("fingerprint %s, ssh-keygen says %s", k.Fingerprint, out)
	}
}

func TestFindLoginKeyTakesTheIdentitysPublicKey(t *testing.T) {
	testkit.NeedCommands(t, "ssh-keygen")
	ctx := context.Background()
	home := t.TempDir()
	keygen(t, filepath.Join(home, ".ssh", "id_ed25519"), "ed25519", "default")
	id := filepath.Join(t.TempDir(), "bench-key")
	line := keygen(t, id, "ed25519", "bench@lab")
	k, err := FindLoginKey(ctx, KeyLookup{Identity: id, Home: home, AgentSocket: "none"})
	if err != nil || k.Line != line || k.Source != id+".pub" {
		t.Fatalf("identity: %+v %v", k, err)
	}
	// An identity without its .pub is refused, not swapped for another key:
	// the push would log in with the identity, not with that key.
	if err := os.Remove(id + ".pub"); err != nil {
		t.Fatal(err)
	}
	_, err = FindLoginKey(ctx, KeyLookup{Identity: id, Home: home, AgentSocket: "none"})
	if causeOf(err) != "no-public-key" || !strings.Contains(step.NextOf(err), "ssh-keygen -y -f "+id) {
		t.Errorf("identity without .pub: %v (next: %s)", err, step.NextOf(err))
	}
}

func TestFindLoginKeyNeverQuotesAPrivateKey(t *testing.T) {
	testkit.NeedCommands(t, "ssh-keygen")
	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "k"), "ed25519", "x")
	priv, _ := os.ReadFile(filepath.Join(dir, "k"))
	// The identity names a .pub that is in fact the private key.
	if err := os.WriteFile(filepath.Join(dir, "wrong.pub"), priv, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := FindLoginKey(context.Background(), KeyLookup{Identity: filepath.Join(dir, "wrong.pub"), AgentSocket: "none"})
	if causeOf(err) != "bad-public-key" {
		t.Fatalf("private key as .pub: %v", err)
	}
	body := strings.Split(string(priv), "\n")[1]
	if strings.Contains(err.Error(), body[:20]) || strings.Contains(step.NextOf(err), body[:20]) {
		t.Errorf("the error quotes the private key: %v", err)
	}
}

func TestFindLoginKeyFallsBackToARealAgent(t *testing.T) {
	testkit.NeedCommands(t, "ssh-keygen", "ssh-agent", "ssh-add")
	ctx := context.Background()
	home := t.TempDir() // no ~/.ssh keys
	sock := startAgent(t)

	// An empty agent: nothing found, with the next step.
	_, err := FindLoginKey(ctx, KeyLookup{Home: home, AgentSocket: sock})
	if causeOf(err) != "no-public-key" || !strings.Contains(step.NextOf(err), "ssh-keygen -t ed25519") ||
		!strings.Contains(err.Error(), "the ssh-agent") || !strings.Contains(err.Error(), filepath.Join(home, ".ssh", "id_ed25519.pub")) {
		t.Fatalf("empty agent: %v (next: %s)", err, step.NextOf(err))
	}

	keys := t.TempDir()
	first := keygen(t, filepath.Join(keys, "a"), "ed25519", "agent-first")
	keygen(t, filepath.Join(keys, "b"), "ecdsa", "agent-second")
	sshAdd(t, sock, filepath.Join(keys, "a"))
	sshAdd(t, sock, filepath.Join(keys, "b"))
	listed, err := exec.Command("env", "SSH_AUTH_SOCK="+sock, "ssh-add", "-L").Output()
	if err != nil {
		t.Fatal(err)
	}
	k, err := FindLoginKey(ctx, KeyLookup{Home: home, AgentSocket: sock})
	if err != nil || k.Source != "ssh-agent" || k.Line != first {
		t.Fatalf("agent: %+v %v", k, err)
	}
	if got := strings.SplitN(string(listed), "\n", 2)[0]; got != k.Line {
		t.Errorf("ssh-add -L lists %q first, jetup took %q", got, k.Line)
	}

	// SSH_AUTH_SOCK is used when no socket is given; a file key still wins.
	t.Setenv("SSH_AUTH_SOCK", sock)
	if k, err := FindLoginKey(ctx, KeyLookup{Home: home}); err != nil || k.Source != "ssh-agent" {
		t.Errorf("from SSH_AUTH_SOCK: %+v %v", k, err)
	}
	ed := keygen(t, filepath.Join(home, ".ssh", "id_ed25519"), "ed25519", "file")
	if k, _ := FindLoginKey(ctx, KeyLookup{Home: home}); k.Line != ed {
		t.Errorf("a key file before the agent: %+v", k)
	}
}

func TestFindLoginKeyStaleAgentSocketIsNoAgent(t *testing.T) {
	_, err := FindLoginKey(context.Background(), KeyLookup{Home: t.TempDir(), AgentSocket: filepath.Join(t.TempDir(), "gone.sock")})
	if causeOf(err) != "no-public-key" {
		t.Errorf("stale socket: %v", err)
	}
}

func TestParseLoginKeyRefusesWhatCouldEscapeTheQuotes(t *testing.T) {
	good := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(testkit.SSHKey(t)))) + " tech@bench"
	if k, err := ParseLoginKey(good); err != nil || k.Type != "ssh-ed25519" {
		t.Fatalf("good key: %+v %v", k, err)
	}
	for name, line := range map[string]string{
		"single quote": good + "'; rm -rf / #",
		"double quote": `command="/bin/sh" ` + good,
		"backquote":    good + " `reboot`",
		"newline":      good + "\nreboot",
		"return":       good + "\rreboot",
		"escape":       good + " \x1b[2J",
		"not a key":    "hello world",
		"empty":        "",
	} {
		if _, err := ParseLoginKey(line); err == nil {
			t.Errorf("%s: accepted %q", name, line)
		}
	}
	if _, err := ConsoleSetup("root", &LoginKey{Line: good + "'"}); err == nil || !strings.Contains(err.Error(), "quote (')") {
		t.Errorf("ConsoleSetup took a key with a quote: %v", err)
	}
	if _, err := ConsoleSetup("root; reboot", nil); err == nil {
		t.Error("ConsoleSetup took a user name with a command in it")
	}
}

// A key file that never ends (a device named by mistake) is refused after
// its first 16 KiB, not read into memory for ever.
func TestKeyFileThatNeverEndsIsRefused(t *testing.T) {
	done := make(chan error, 1)
	go func() { _, err := readKeyFile("/dev/zero"); done <- err }()
	select {
	case err := <-done:
		if causeOf(err) != "bad-public-key" {
			t.Errorf("%v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("reading /dev/zero as a key did not end within 60 s")
	}
}
