package sim

import (
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
	b, err := NewBoard(BoardOptions{Dir: t.TempDir(), Speed: 40, HostKeys: []ssh.PublicKey{target.HostKey(), rsaPub}})
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
	con := serialcon.New(serialcon.Options{Ports: b, Send: setup, SendAt: serialcon.StageKernel, Timeout: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _, _ = con.Run(ctx, ev); close(done) }()
	defer func() { cancel(); <-done }()
	ev.wait(t, stage(serialcon.StageShell))
	if strings.Contains(ev.output(), "SHA256:") {
		t.Fatalf("the board answered before its shell prompt:\n%s", ev.output())
	}
	if !strings.Contains(ev.output(), "ssh-keygen -lf") {
		t.Fatal("the commands typed during the boot were not echoed")
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
