package remote

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/jetup/jetup/internal/testkit"
)

// Issue 21 finding 4: Forget read known_hosts with a 64 KiB Scanner and did
// not check its error, so one long line before the entry to remove left an
// empty file: every other pin lost.
func TestForgetKeepsEveryOtherLineAfterALongOne(t *testing.T) {
	dir := t.TempDir()
	kh := KnownHosts{File: filepath.Join(dir, "known_hosts")}
	a, b := testkit.SSHKey(t), testkit.SSHKey(t)
	long := "# " + strings.Repeat("x", 70_000) // 70 KB, past bufio.Scanner's 64 KiB
	other := knownhosts.Line([]string{"10.0.0.7"}, b)
	before := "# my notes\r\n" + long + "\n" + other + "\n\n  \n"
	if err := os.WriteFile(kh.File, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := kh.Pin("192.168.55.1:22", a); err != nil {
		t.Fatal(err)
	}
	tail := "# pinned by jetup 2020-01-01T00:00:00Z\n" + knownhosts.Line([]string{"10.0.0.8"}, b) + "\n# last line without a newline"
	f, _ := os.OpenFile(kh.File, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString(tail)
	f.Close()

	n, err := kh.Forget("192.168.55.1:22")
	if n != 1 || err != nil {
		t.Fatalf("forget: %d %v", n, err)
	}
	after, _ := os.ReadFile(kh.File)
	if string(after) != before+tail {
		t.Errorf("forget changed other lines: %d bytes before, %d after", len(before+tail), len(after))
	}
	if st, _ := os.Stat(kh.File); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	// Nothing left beside it: the temp file was renamed over it.
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("left in the state dir: %v", es)
	}
}

// A known_hosts that does not end in a newline: Pin must not glue its
// comment to the last line (which would change that line's meaning).
func TestPinAfterALastLineWithoutNewline(t *testing.T) {
	kh := KnownHosts{File: filepath.Join(t.TempDir(), "known_hosts")}
	b := testkit.SSHKey(t)
	last := knownhosts.Line([]string{"10.0.0.7"}, b)
	_ = os.WriteFile(kh.File, []byte(last), 0o600)
	if err := kh.Pin("192.168.55.1:22", testkit.SSHKey(t)); err != nil {
		t.Fatal(err)
	}
	if got, err := kh.Pinned("10.0.0.7:22"); err != nil || len(got) != 1 {
		t.Errorf("the last line's pin is gone: %v %v", got, err)
	}
}

// A known_hosts another user may write to is not trusted.
func TestKnownHostsWritableByOthersIsRefused(t *testing.T) {
	kh := KnownHosts{File: filepath.Join(t.TempDir(), "known_hosts")}
	_ = os.WriteFile(kh.File, []byte(knownhosts.Line([]string{"192.168.55.1"}, testkit.SSHKey(t))+"\n"), 0o600)
	_ = os.Chmod(kh.File, 0o666)
	if got, err := kh.Pinned("192.168.55.1:22"); err == nil || !strings.Contains(err.Error(), "other users") {
		t.Errorf("pins from a 0666 file: %v %v", got, err)
	}
}

// splitKeep splits as Forget must see a file: lines with their endings.
func splitKeep(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

// FuzzKnownHostsEdit: whatever the file holds, Forget removes exactly the
// entries for the host (and the "# pinned by jetup" line right above
// each), byte for byte nothing else; Pin keeps the file as a prefix and
// what it pins is then found; Forget after Pin gives the keys back.
func FuzzKnownHostsEdit(f *testing.F) {
	key, _, _, _, _ := ssh.ParseAuthorizedKey([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"))
	line := knownhosts.Line([]string{"192.168.55.1"}, key)
	f.Add([]byte("# pinned by jetup x\n"+line+"\n10.0.0.1 "+line[13:]+"\n"), "192.168.55.1:22")
	f.Add([]byte(strings.Repeat("a", 70_000)+"\n"+line), "192.168.55.1:22")
	f.Add([]byte("# pinned by jetup\n# pinned by jetup\n"+line+"\r\n"), "192.168.55.1:22")
	f.Add([]byte("[b]:2222,192.168.55.1 ssh-ed25519 AAAA\n"), "b:2222")
	f.Fuzz(func(t *testing.T, content []byte, addr string) {
		if checkAddr(addr) != nil {
			t.Skip() // Pin refuses what is not a host name or address and a port
		}
		kh := KnownHosts{File: filepath.Join(t.TempDir(), "known_hosts")}
		if err := os.WriteFile(kh.File, content, 0o600); err != nil {
			t.Fatal(err)
		}
		host := knownhosts.Normalize(addr)
		lines := splitKeep(content)
		var want []byte
		removed := 0
		for i, l := range lines {
			if oracleEntryFor(l, host) {
				removed++
				continue
			}
			if i+1 < len(lines) && isPinComment(l) && oracleEntryFor(lines[i+1], host) {
				continue
			}
			want = append(want, l...)
		}
		n, err := kh.Forget(addr)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(kh.File)
		if n != removed || !bytes.Equal(got, want) && removed > 0 || removed == 0 && !bytes.Equal(got, content) {
			t.Fatalf("Forget(%q) removed %d (want %d):\nin   %q\ngot  %q\nwant %q", addr, n, removed, content, got, want)
		}
		// Pin keeps what is there and appends whole lines.
		if err := kh.Pin(addr, key); err != nil {
			t.Fatal(err)
		}
		pinned, _ := os.ReadFile(kh.File)
		if !bytes.HasPrefix(pinned, got) {
			t.Fatalf("Pin changed the file's start:\nbefore %q\nafter  %q", got, pinned)
		}
		if n, err := kh.Forget(addr); err != nil || n != 1 {
			t.Fatalf("Forget after Pin: %d %v", n, err)
		}
		again, _ := os.ReadFile(kh.File)
		if !bytes.Equal(again, got) && !(len(got) > 0 && got[len(got)-1] != '\n' && bytes.Equal(again, append(got, '\n'))) {
			t.Fatalf("Pin then Forget is not the file it started from:\nbefore %q\nafter  %q", got, again)
		}
	})
}

// The test's own reading of a known_hosts line, independent of Forget's.
func oracleEntryFor(line []byte, host string) bool {
	f := strings.Fields(string(line))
	if len(f) < 3 || strings.HasPrefix(f[0], "#") {
		return false
	}
	for _, h := range strings.Split(f[0], ",") {
		if h == host {
			return true
		}
	}
	return false
}

func isPinComment(line []byte) bool { return bytes.HasPrefix(line, []byte("# pinned by jetup")) }
