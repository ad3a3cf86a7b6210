package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/step"
)

// ActivateScript activates system on the board. An installed system first
// gets its system profile set (right after the copy, so a garbage
// collection can no longer take the new paths), then
// switch-to-configuration runs under systemd-run where the board has it, as
// nixos-rebuild does, so a dropped ssh session cannot cut it short. The
// installer runs nixos-install onto /mnt. Output is the tool's own, with
// "jetup:" lines for the result.
func ActivateScript(mode Mode, system string) string {
	var b strings.Builder
	b.WriteString(scriptHead("activate"))
	fmt.Fprintf(&b, "sys=%s\nmode=%s\n", shellQuote(system), mode)
	b.WriteString(`exec 2>&1
if [ "$mode" = installer ]; then
  $SUDO nixos-install --system "$sys" --root /mnt --no-root-passwd --no-channel-copy
  rc=$?
  gen=$(readlink /mnt/nix/var/nix/profiles/system 2>/dev/null) && say generation "$gen"
  say rc "$rc"
  exit 0
fi
if ! $SUDO nix-env -p /nix/var/nix/profiles/system --set "$sys"; then say rc profile; exit 0; fi
gen=$(readlink /nix/var/nix/profiles/system 2>/dev/null) && say generation "$gen"
if command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  say supervised systemd-run
  $SUDO systemd-run -E LOCALE_ARCHIVE -E NIXOS_INSTALL_BOOTLOADER --collect --no-ask-password --pipe --quiet \
    --same-dir --service-type=exec --unit=jetup-switch-to-configuration --wait \
    "$sys/bin/switch-to-configuration" "$mode"
else
  $SUDO env -i LOCALE_ARCHIVE="${LOCALE_ARCHIVE:-}" NIXOS_INSTALL_BOOTLOADER= "$sys/bin/switch-to-configuration" "$mode"
fi
say rc "$?"
`)
	return b.String()
}

// RebootScript reboots the board a moment after the session ends, so the
// command returns before the link goes down.
const RebootScript = `# jetup:reboot
PATH="$PATH:` + probePath + `"; export PATH
SUDO=; [ "$(id -u)" != 0 ] && SUDO="sudo -n"
$SUDO nohup sh -c 'sleep 2; systemctl reboot || reboot' >/dev/null 2>&1 &
printf 'jetup:rebooting=yes\n'
`

// activation is what the activation script reported.
type activation struct {
	rc         string // "0", a number, "profile", or "" when it never said
	generation int
	output     []string // the board's lines, last ones kept
}

const keepLines = 40

// line takes one output line; it returns false for jetup's own lines.
func (a *activation) line(l string) bool {
	if kv, ok := strings.CutPrefix(l, "jetup:"); ok {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "rc":
			a.rc = v
		case "generation":
			a.generation = generationOf(v)
		}
		return false
	}
	a.output = append(a.output, l)
	if len(a.output) > keepLines {
		a.output = a.output[len(a.output)-keepLines:]
	}
	return true
}

// tail is the last n output lines, for an error message.
func (a *activation) tail(n int) string {
	out := a.output
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// activate runs the activation script and judges its result.
func (p *pusher) activate(ctx context.Context) error {
	mode := p.facts.Mode
	if mode == Installer {
		p.phase(PhaseActivate, "installing: nixos-install --system %s --root /mnt", shortPath(p.res.System))
	} else {
		p.phase(PhaseActivate, "activating: system profile, then switch-to-configuration %s", mode)
	}
	var a activation
	out := NewLineWriter(func(l string) {
		fmt.Fprintln(p.log, "board: "+l)
		if a.line(l) {
			p.sink.Emit(RemoteLine{Event: "remote", At: time.Now(), Phase: PhaseActivate, Line: l})
		}
	})
	err := p.conn.Run(ctx, ActivateScript(mode, p.res.System), out, out)
	out.Flush()
	p.res.Generation = a.generation
	tool := "switch-to-configuration " + string(mode)
	if mode == Installer {
		tool = "nixos-install"
	}
	if err != nil {
		if errors.Is(err, ErrConnectionLost) && ctx.Err() == nil {
			next := "log in again and check the board (nothing needs sending again); then push again to finish"
			if p.facts.SystemdRun && mode != Installer {
				next = "the activation goes on on the board under systemd-run: log in again and check `systemctl status jetup-switch-to-configuration`, then push again to confirm"
			}
			return &step.Error{Cause: "connection-lost", Err: err, What: "the connection dropped during " + tool, Next: next}
		}
		return p.remoteErr(ctx, err, tool)
	}
	switch a.rc {
	case "0":
		return nil
	case "profile":
		return step.Errorf("activation-failed", "check the board's free space and its Nix store, then push again",
			"could not set the system profile on the board:\n%s", a.tail(15))
	case "":
		return step.Errorf("activation-failed", "log in and check the board, then push again",
			"%s ended without reporting its status:\n%s", tool, a.tail(15))
	}
	next := "fix what the output says, rebuild the system and push again (the paths already sent stay on the board)"
	if mode != Installer {
		next += "; to go back: nix-env -p /nix/var/nix/profiles/system --rollback && /nix/var/nix/profiles/system/bin/switch-to-configuration switch"
	}
	return &step.Error{Cause: "activation-failed", Next: next,
		What: fmt.Sprintf("%s failed on the board (status %s):\n%s", tool, a.rc, a.tail(15))}
}

// reboot asks the board to reboot; the link going down is expected.
func (p *pusher) reboot(ctx context.Context) {
	p.phase(PhaseReboot, "rebooting the board")
	var out strings.Builder
	err := p.conn.Run(ctx, RebootScript, &out, &out)
	if err != nil && !errors.Is(err, ErrConnectionLost) {
		p.sink.Emit(step.Warning{At: time.Now(), Warning: "the reboot command failed: " + err.Error(),
			Next: "reboot the board by hand"})
		return
	}
	p.res.Rebooting = true
}
