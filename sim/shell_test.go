package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/step"
)

func TestBoardShellPrintsThePushTargetsHostKeyOnlyAtItsPrompt(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, _ := ssh.NewPublicKey(&rsaKey.PublicKey)
	target := NewPushBoard(PushOptions{})
	// The board holds before its shell prompt until the test has seen the
	// commands typed during the boot echoed: whatever the machine's speed,
	// they arrive before the prompt, as the test means.
	b, err := NewBoard(BoardOptions{Dir: t.TempDir(), Speed: 40, HostKeys: []ssh.PublicKey{target.HostKey(), rsaPub},
		HoldAt: serialcon.StageShell})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	login, err := deploy.ParseLoginKey(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rsaPub))) + " tech@bench")
	if err != nil {
		t.Fatal(err)
	}
	setup, err := deploy.ConsoleSetup("root", &login)
	if err != nil {
		t.Fatal(err)
	}

	// Typed while the kernel boots, the commands are echoed and nothing
	// answers them; typed at the prompt, the shell prints the host keys.
	ev := &events{}
	con := serialcon.New(serialcon.Options{Ports: b, Send: setup, SendAt: serialcon.StageKernel, Timeout: 2 * time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _, _ = con.Run(ctx, ev); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-b.Held():
	case <-time.After(time.Minute):
		t.Fatal("waited a minute for the board to reach its shell prompt")
	}
	// The board has taken every key before its prompt (answered as it
	// reads them), and its echo has come, among the boot's own lines: so
	// it is looked for as every printable key typed, in order.
	if !ev.changed.WaitUntil(time.Minute, func() bool {
		return bytes.Contains(b.Input(), setup) && echoed(setup, ev.output())
	}) {
		t.Fatalf("the commands typed during the boot were not taken and echoed:\n%s", ev.output())
	}
	b.Release()
	ev.wait(t, stage(serialcon.StageShell))
	if strings.Contains(ev.output(), "SHA256:") {
		t.Fatalf("the board answered before its shell prompt:\n%s", ev.output())
	}
	before := len(b.Input())
	if err := con.Send(setup); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, func(e step.Event) bool {
		f, ok := e.(serialcon.Fact)
		return ok && f.Fact == serialcon.FactHostKey && f.Value == target.Fingerprint()
	})
	if got := string(b.Input()[before:]); got != string(setup) {
		t.Errorf("the board got %q", got)
	}
	out := ev.output()
	rsaLine := "2048 " + ssh.FingerprintSHA256(rsaPub) + " root@nixos (RSA)\r\n"
	edLine := "256 " + target.Fingerprint() + " root@nixos (ED25519)\r\n"
	i, j := strings.Index(out, rsaLine), strings.Index(out, edLine)
	if i < 0 || j < i || !strings.HasSuffix(out, edLine+shellPrompt) {
		t.Errorf("ssh-keygen lines (RSA, then ED25519, then the prompt) missing:\n%q", out[max(0, len(out)-600):])
	}
	// Installing the key prints nothing: only the echo, then the prompt.
	if strings.Contains(out, "\njetup:") || strings.Contains(out, "No such file") {
		t.Errorf("the key install said something:\n%s", out)
	}
}

// echoed reports whether out holds every printable byte of typed, in
// order (a line discipline's echo, however the board's other output is
// interleaved with it).
func echoed(typed []byte, out string) bool {
	i := 0
	for _, c := range typed {
		if c < 0x20 || c == 0x7f {
			continue
		}
		j := strings.IndexByte(out[i:], c)
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return true
}
