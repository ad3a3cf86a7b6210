package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// The board's own updaters are small scripts printing the real tools'
// output shapes: systemd-sysupdate's as blitz/sysupdate-playground's
// README shows `systemd-sysupdate update` ("Selected update '18' for
// install.", "⤵️ Acquiring ...", "✨ Successfully installed update '18'."),
// SWUpdate's notifier lines as its core/notifier.c formats them ("[INFO ]
// : SWUPDATE running :  ...", "SWUPDATE successful !", "[ERROR] : SWUPDATE
// failed [N] ...", as Jayy001/codexctl#160 shows a failed install). They
// record their calls in the board's directory (/run/jetup-board).
const fakeSysupdate = `#!/bin/sh
echo "$@" >> /run/jetup-board/sysupdate.calls
[ "$1" = update ] || exit 1
cur=$(cat /run/installed-version 2>/dev/null || echo 1.2.3)
new=$(ls /run/updates | sed -n 's/^appliance_\([0-9.]*[0-9]\)\..*/\1/p' | sort -V | tail -n 1)
if [ -z "$new" ] || [ "$new" = "$cur" ]; then echo "No update needed."; exit 0; fi
echo "Selected update '$new' for install."
echo "Making room for 1 updates…"
echo "Removed no instances."
for f in /run/updates/appliance_$new.*; do
  echo "⤵️ Acquiring $f → /proc/self/fd/3p2..."
  echo "Successfully acquired '$f'."
done
echo "✨ Successfully installed update '$new'."
echo "$new" > /run/installed-version
`

const fakeSWUpdate = `#!/bin/sh
echo "$@" >> /run/jetup-board/swupdate.calls
echo "SWUpdate v2024.12.1"
echo
echo "Licensed under GPLv2. See source distribution for detailed copyright notices."
echo
f=$3
[ "$(head -c 6 "$f")" = 070702 ] || { echo "[ERROR] : SWUPDATE failed [0] ERROR cpio_utils.c : extract_cpio_header : CPIO Format not recognized: magic not found"; echo "[ERROR] : SWUPDATE failed [1] Installation failed !"; exit 1; }
echo "[INFO ] : SWUPDATE started :  Software Update started !"
echo "[INFO ] : SWUPDATE running :  Installation in progress"
if grep -a -q /dev/nonexistent "$f"; then
  echo "[ERROR] : SWUPDATE failed [0] ERROR raw_handler.c : install_raw_image : /dev/nonexistent cannot be opened for writing"
  echo "[ERROR] : SWUPDATE failed [1] Installation failed !"
  exit 1
fi
echo "[INFO ] : SWUPDATE successful ! SWUPDATE successful !"
`

func updateBoard(t *testing.T, hwrev string) (*testboard.Board, UpdateOptions) {
	t.Helper()
	b := testboard.New(t, testboard.Options{
		Tools: map[string]string{"systemd-sysupdate": fakeSysupdate, "swupdate": fakeSWUpdate},
		Etc: map[string]string{
			"hwrevision":                    hwrev + "\n",
			"os-release":                    "ID=nixos\nIMAGE_VERSION=1.2.3\n",
			"sysupdate.d/50-store.transfer": "[Source]\nType=regular-file\nPath=/run/updates\nMatchPattern=appliance_@v.nix-store.raw\n\n[Target]\nType=partition\nPath=auto\nMatchPattern=nix-store_@v\n",
			"sysupdate.d/60-uki.transfer":   "[Source]\nType=regular-file\nPath=/run/updates\nMatchPattern=appliance_@v.efi\n\n[Target]\nType=regular-file\nPath=/EFI/Linux\nPathRelativeTo=boot\nMatchPattern=appliance_@v.efi\n",
		},
	})
	return b, UpdateOptions{
		Target: remote.Target{Host: b.Addr, User: "root", Identity: b.ClientKey},
		Trust:  remote.Trust{KnownHosts: filepath.Join(t.TempDir(), "known_hosts"), AcceptHostKey: b.HostKeyFingerprint()},
		Log:    &bytes.Buffer{},
	}
}

var realEdge = Edge{SSH: remote.OpenSSH{Runner: proc.Host{}}, Runner: proc.Host{}}

type events struct{ all []step.Event }

func (e *events) Emit(ev step.Event) { e.all = append(e.all, ev) }
func (e *events) text() string {
	var b strings.Builder
	for _, ev := range e.all {
		b.WriteString(ev.Text() + "\n")
	}
	return b.String()
}

func update(t *testing.T, o UpdateOptions) (*UpdateResult, *events, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // bound: the whole update over a local link
	defer cancel()
	ev := &events{}
	res, err := Update(ctx, realEdge, o, ev)
	return res, ev, err
}

func causeOf(err error) string {
	var se *step.Error
	if errors.As(err, &se) {
		return se.Cause
	}
	return ""
}

func sysupdateDir(t *testing.T, version string) string {
	dir := t.TempDir()
	for n, b := range map[string]string{"appliance_" + version + ".nix-store.raw": strings.Repeat("store", 100000), "appliance_" + version + ".efi": "uki"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, dir, "sh", "-c", "sha256sum appliance_* > SHA256SUMS")
	return dir
}

func TestSysupdateOverSSH(t *testing.T) {
	testboard.Need(t)
	b, o := updateBoard(t, "jetup-board 1.0")
	o.Path = sysupdateDir(t, "1.2.4")
	res, ev, err := update(t, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, ev.text())
	}
	if res.Version != "1.2.4" || res.Before != "1.2.3" || len(res.Sent) != 3 || res.ExitCode != 0 || !strings.HasPrefix(res.Signature, "not checked") {
		t.Fatalf("%+v\n%s", res, ev.text())
	}
	for _, want := range []string{"nothing was signature-checked", "apply: Selected update '1.2.4' for install.", "Successfully installed update '1.2.4'", "done: version 1.2.4 installed"} {
		if !strings.Contains(ev.text(), want) {
			t.Errorf("no %q in\n%s", want, ev.text())
		}
	}
	// Again: the board has every file; nothing is sent.
	res, ev, err = update(t, o)
	if err != nil || len(res.Sent) != 0 || len(res.Skipped) != 3 || res.Version != "" {
		t.Fatalf("%v %+v\n%s", err, res, ev.text())
	}
	calls, _ := os.ReadFile(filepath.Join(b.Dir, "sysupdate.calls"))
	if string(calls) != "update\nupdate\n" {
		t.Errorf("calls %q", calls)
	}
	// A file SHA256SUMS does not cover: refused before connecting.
	_ = os.WriteFile(filepath.Join(o.Path, "appliance_1.2.4.extra"), []byte("x"), 0o644)
	res, _, err = update(t, o)
	if causeOf(err) != "update-inconsistent" || step.ExitCodeOf(err) != 2 || !strings.Contains(err.Error(), "appliance_1.2.4.extra") || res != nil {
		t.Errorf("%v %+v", err, res)
	}
}

func TestSWUOverSSH(t *testing.T) {
	testboard.Need(t)
	testkit.NeedCommands(t, "cpio", "openssl")
	b, o := updateBoard(t, "jetup-board 1.0")
	dir := t.TempDir()
	o.Path = makeSWU(t, dir, swuFiles(), `"1.0", "#RE:^1\\.[0-9]$"`, nil)
	res, ev, err := update(t, o)
	if err != nil || res.Version != "2.1.0" || len(res.Sent) != 1 || !strings.Contains(ev.text(), "SWUpdate: successful") {
		t.Fatalf("%v %+v\n%s", err, res, ev.text())
	}
	calls, _ := os.ReadFile(filepath.Join(b.Dir, "swupdate.calls"))
	if !strings.HasPrefix(string(calls), "-v -i /var/tmp/jetup-swu.") || !strings.HasSuffix(strings.TrimSpace(string(calls)), "/update.swu") {
		t.Errorf("calls %q", calls)
	}

	// Another hardware revision: refused after the probe, nothing sent.
	o2 := o
	o2.Path = makeSWU(t, t.TempDir(), swuFiles(), `"2.0"`, nil)
	res, _, err = update(t, o2)
	if causeOf(err) != "hw-incompatible" || !strings.Contains(err.Error(), "revision 1.0; the bundle is for revision 2.0") || len(res.Sent) != 0 {
		t.Errorf("%v %+v", err, res)
	}
	// An architecture the board is not.
	o2.Path = makeSWU(t, t.TempDir(), swuFiles(), `"1.0", "riscv64"`, nil)
	if _, _, err = update(t, o2); causeOf(err) != "hw-incompatible" {
		t.Errorf("arch: %v", err)
	}
	// A wrong hash: refused before connecting.
	o2.Path = makeSWU(t, t.TempDir(), swuFiles(), `"1.0"`, func(n, h string) string { return strings.Repeat("1", 64) })
	if res, _, err = update(t, o2); causeOf(err) != "update-inconsistent" || res != nil {
		t.Errorf("wrong hash: %v", err)
	}
	// The board's swupdate fails: exit 1, its last error explained.
	o2.Path = makeSWU(t, t.TempDir(), map[string][]byte{"kernel.img": []byte("to /dev/nonexistent")}, `"1.0"`, nil)
	res, _, err = update(t, o2)
	if causeOf(err) != "swupdate-failed" || step.ExitCodeOf(err) != 1 || res.ExitCode != 1 || !strings.Contains(err.Error(), "/dev/nonexistent cannot be opened") {
		t.Errorf("%v %+v", err, res)
	}
	calls, _ = os.ReadFile(filepath.Join(b.Dir, "swupdate.calls"))
	if n := strings.Count(string(calls), "\n"); n != 2 {
		t.Errorf("swupdate ran %d times, want 2 (the good bundle and the failing one):\n%s", n, calls)
	}
}

// sw-description.sig checked as SWUpdate's RSA mode does (the signature
// made as its documentation says: openssl dgst -sha256 -sign).
func TestSWUSignature(t *testing.T) {
	testboard.Need(t)
	testkit.NeedCommands(t, "cpio", "openssl")
	_, o := updateBoard(t, "jetup-board 1.0")
	dir := t.TempDir()
	run(t, dir, "openssl", "genrsa", "-out", "priv.pem", "2048")
	run(t, dir, "openssl", "rsa", "-in", "priv.pem", "-pubout", "-out", "pub.pem")
	run(t, dir, "openssl", "genrsa", "-out", "other.pem", "2048")
	run(t, dir, "openssl", "rsa", "-in", "other.pem", "-pubout", "-out", "otherpub.pem")
	// makeSWU writes sw-description; sign it, then build again with the .sig.
	makeSWU(t, dir, swuFiles(), `"1.0"`, nil)
	run(t, dir, "openssl", "dgst", "-sha256", "-sign", "priv.pem", "-out", "sw-description.sig", "sw-description")
	o.Path = makeSWU(t, dir, swuFiles(), `"1.0"`, nil)
	o.VerifyKey = filepath.Join(dir, "otherpub.pem")
	res, _, err := update(t, o)
	if causeOf(err) != "signature-bad" || step.ExitCodeOf(err) != 2 || len(res.Sent) != 0 {
		t.Fatalf("wrong key: %v %+v", err, res)
	}
	o.VerifyKey = filepath.Join(dir, "pub.pem")
	res, _, err = update(t, o)
	if err != nil || !strings.HasPrefix(res.Signature, "sw-description.sig verified as RSA") {
		t.Fatalf("%v %+v", err, res)
	}
}

// SHA256SUMS.gpg checked with gpgv before anything is sent.
func TestSysupdateGPGSignature(t *testing.T) {
	testkit.NeedCommands(t, "gpg", "gpgv")
	home := t.TempDir()
	gpg := func(args ...string) {
		t.Helper()
		cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gpg %v: %v %s", args, err, out)
		}
	}
	gpg("--quick-gen-key", "jetup test <test@example.invalid>", "ed25519", "sign", "never")
	dir := sysupdateDir(t, "1.2.4")
	gpg("--output", filepath.Join(dir, "SHA256SUMS.gpg"), "--detach-sign", filepath.Join(dir, "SHA256SUMS"))
	key := filepath.Join(t.TempDir(), "key.asc")
	gpg("--armor", "--output", key, "--export")
	o := UpdateOptions{Path: dir, GPGKey: key, Target: remote.Target{Host: "192.0.2.1"}}
	// Tamper after signing: the signature no longer matches SHA256SUMS.
	sums, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	_ = os.WriteFile(filepath.Join(dir, "SHA256SUMS"), append(sums, '\n'), 0o644)
	rep, _ := Inspect(context.Background(), dir, Options{})
	if _, err := checkSignature(context.Background(), proc.Host{}, rep, o); causeOf(err) != "signature-bad" {
		t.Fatalf("tampered: %v", err)
	}
	_ = os.WriteFile(filepath.Join(dir, "SHA256SUMS"), sums, 0o644)
	rep, _ = Inspect(context.Background(), dir, Options{})
	sig, err := checkSignature(context.Background(), proc.Host{}, rep, o)
	if err != nil || !strings.HasPrefix(sig, "SHA256SUMS.gpg verified") {
		t.Fatalf("%v %q", err, sig)
	}
}
