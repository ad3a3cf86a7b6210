package remote

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

func TestKnownHostsPinForgetAndPorts(t *testing.T) {
	kh := KnownHosts{File: filepath.Join(t.TempDir(), "state", "known_hosts")}
	a, b := testkit.SSHKey(t), testkit.SSHKey(t)
	if got, err := kh.Pinned("192.168.55.1:22"); err != nil || len(got) != 0 {
		t.Fatalf("empty file: %v %v", got, err)
	}
	if err := kh.Pin("192.168.55.1:22", a); err != nil {
		t.Fatal(err)
	}
	if err := kh.Pin("192.168.55.1:2222", b); err != nil {
		t.Fatal(err)
	}
	got, _ := kh.Pinned("192.168.55.1:22")
	if len(got) != 1 || Fingerprint(got[0]) != Fingerprint(a) {
		t.Errorf("port 22 pins %v", got)
	}
	got, _ = kh.Pinned("192.168.55.1:2222")
	if len(got) != 1 || Fingerprint(got[0]) != Fingerprint(b) {
		t.Errorf("port 2222 pins %v", got)
	}
	raw, _ := os.ReadFile(kh.File)
	if !strings.Contains(string(raw), "\n192.168.55.1 ssh-ed25519 ") || !strings.Contains(string(raw), "\n[192.168.55.1]:2222 ssh-ed25519 ") {
		t.Errorf("not OpenSSH's form:\n%s", raw)
	}
	if st, _ := os.Stat(kh.File); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	if n, err := kh.Forget("192.168.55.1:22"); n != 1 || err != nil {
		t.Errorf("forget: %d %v", n, err)
	}
	if got, _ := kh.Pinned("192.168.55.1:22"); len(got) != 0 {
		t.Error("still pinned after forget")
	}
	if got, _ := kh.Pinned("192.168.55.1:2222"); len(got) != 1 {
		t.Error("forget removed another port's key")
	}
	raw, _ = os.ReadFile(kh.File)
	if strings.Count(string(raw), "# pinned by jetup") != 1 {
		t.Errorf("forget left the comment of the removed key:\n%s", raw)
	}
}

// OpenSSH must read the file jetup writes: ssh-keygen -F finds the pin.
func TestKnownHostsFileIsOpenSSHs(t *testing.T) {
	testkit.NeedCommands(t, "ssh-keygen")
	kh := KnownHosts{File: filepath.Join(t.TempDir(), "known_hosts")}
	k := testkit.SSHKey(t)
	if err := kh.Pin("board.local:2222", k); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh-keygen", "-F", "[board.local]:2222", "-f", kh.File).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ssh-ed25519") {
		t.Errorf("ssh-keygen -F: %v %s", err, out)
	}
}

func TestSameFingerprint(t *testing.T) {
	fp := "SHA256:sm7jhd934CJSOe3Gm19VAuGzK8xmAsnDcm81PUtpBu0"
	for _, s := range []string{fp, "sm7jhd934CJSOe3Gm19VAuGzK8xmAsnDcm81PUtpBu0", fp + "=", " " + fp + "\n"} {
		if !SameFingerprint(fp, s) {
			t.Errorf("%q", s)
		}
	}
	if SameFingerprint(fp, "SHA256:sm7jhd934CJSOe3Gm19VAuGzK8xmAsnDcm81PUtpBu1") || SameFingerprint("", "") {
		t.Error("different or empty fingerprints match")
	}
}

func TestSSHConfigPinsTheKeyStrictly(t *testing.T) {
	c, err := sshConfig(Target{Host: "192.168.55.1", Port: 2222, User: "nixos", Identity: "/k/id"}, "/s/known_hosts", "/t/cm", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"HostName 192.168.55.1", "Port 2222", "User nixos", `IdentityFile "/k/id"`, "IdentitiesOnly yes",
		`UserKnownHostsFile "/s/known_hosts"`, "GlobalKnownHostsFile /dev/null", "StrictHostKeyChecking yes", "BatchMode yes",
		`ControlPath "/t/cm"`, "Compression yes"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
	if strings.Contains(strings.ToLower(c), "stricthostkeychecking no") || strings.Contains(c, "accept-new") {
		t.Error("host key checking loosened")
	}
}

func TestClassifySSH(t *testing.T) {
	cases := map[string]DialReason{
		"ssh: connect to host 192.168.55.1 port 22: Connection refused":                                                        Unreachable,
		"ssh: connect to host 192.168.55.9 port 22: No route to host":                                                          Unreachable,
		"root@192.168.55.1: Permission denied (publickey).":                                                                    AuthRefused,
		"@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.":                              HostKeyMismatch,
		"No ED25519 host key is known for 192.168.55.1 and you have requested strict checking.\nHost key verification failed.": HostKeyMismatch,
		"": Unreachable,
	}
	for in, want := range cases {
		if got := classifySSH(in); got.Reason != want {
			t.Errorf("%q: %s, want %s", in, got.Reason, want)
		}
	}
}

func TestKnownHostsPathKeepsTheSimulatedPinsApart(t *testing.T) {
	if got := KnownHostsPath("/s", false); got != "/s/known_hosts" {
		t.Errorf("real: %s", got)
	}
	if got := KnownHostsPath("/s", true); got != "/s/known_hosts.sim" {
		t.Errorf("sim: %s", got)
	}
}
