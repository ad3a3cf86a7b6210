package verify

import (
	"fmt"
	"strings"
)

// sys is the board's "sys" section as key=value pairs.
func (v *verifier) sys() map[string]string {
	m := map[string]string{}
	if f := v.board.last("sys"); f != nil {
		// Split, not a bufio.Scanner: Body's lines are up to maxLine long,
		// one byte more than the Scanner took with its newline.
		for _, l := range strings.Split(string(f.Body), "\n") {
			if k, val, ok := strings.Cut(l, "="); ok {
				m[k] = strings.TrimSpace(val)
			}
		}
	}
	return m
}

// booted: /run/current-system is the pushed toplevel; the boot entry
// alone having it means a reboot is pending.
func (v *verifier) booted() Check {
	sys := v.sys()
	cur, prof := sys["current"], sys["profile"]
	v.res.System, v.res.Hostname = cur, sys["hostname"]
	version := ""
	if nv := sys["nixos_version"]; nv != "" {
		version = " (NixOS " + clip(nv, 60) + ")"
	}
	if !strings.HasPrefix(cur, "/nix/store/") {
		return Check{Status: Fail, Detail: "the board has no /run/current-system: it does not run NixOS",
			Next: "check --host (is this the board?); push a system with jetup push first"}
	}
	exp := v.expected
	if exp == "" {
		return Check{Status: NotEnabled, Detail: fmt.Sprintf("runs %s%s; no pushed system to compare it with", clip(shortSystem(cur), 120), version),
			Next: "pass --closure with the toplevel you pushed (or push with jetup, whose run record verify reads)"}
	}
	switch {
	case cur == exp:
		d := fmt.Sprintf("runs the pushed %s%s", clip(shortSystem(exp), 120), version)
		if b := sys["booted"]; b != "" && b != cur {
			d += "; booted from an older generation (a new kernel takes a reboot)"
		}
		return Check{Status: OK, Detail: d}
	case prof == exp:
		return Check{Status: Warn, Detail: fmt.Sprintf("the pushed %s is the boot entry, but the board runs %s: a reboot is pending",
			clip(shortSystem(exp), 120), clip(shortSystem(cur), 120)),
			Next: "reboot the board (jetup push --reboot, or systemctl reboot on it), then verify again"}
	}
	return Check{Status: Fail, Detail: fmt.Sprintf("the board runs %s, not the pushed %s (from %s)", clip(shortSystem(cur), 120), clip(shortSystem(exp), 120), v.from),
		Next: "push it again (jetup push --closure " + exp + ") and read the activation in the push log"}
}
