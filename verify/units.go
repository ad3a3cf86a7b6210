package verify

import (
	"fmt"
	"strings"
)

// failedUnit is a line of `systemctl list-units --failed --no-legend
// --plain`: "nvpmodel.service loaded failed failed NVIDIA power model".
type failedUnit struct {
	Name, Description string
}

func parseFailed(body []byte) []failedUnit {
	var out []failedUnit
	for _, l := range strings.Split(string(body), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (f[0] == "●" || f[0] == "*") {
			f = f[1:] // older systemd marks failed units even with --plain
		}
		if len(f) < 4 || !strings.Contains(f[0], ".") || f[1] != "loaded" && f[1] != "not-found" && f[1] != "masked" {
			continue
		}
		out = append(out, failedUnit{Name: f[0], Description: strings.Join(f[4:], " ")})
	}
	return out
}

// units: `systemctl --failed` is empty; each failed unit is named with
// its journal's last lines; a system still starting is a warning.
func (v *verifier) units() Check {
	state := ""
	if f := v.board.last("running"); f != nil {
		if l := lastLines(f.Body, 1); len(l) > 0 {
			state = l[0]
		}
	}
	failed := v.board.last("failed")
	if failed == nil {
		return Check{Status: Fail, Cause: CauseBadOutput, Detail: "the board did not list its units", Next: "check that the board runs systemd"}
	}
	units := parseFailed(failed.Body)
	if failed.RC != 0 && len(units) == 0 {
		return Check{Status: Fail, Cause: CauseBadOutput, Detail: "systemctl list-units failed: " + strings.Join(lastLines(failed.Body, 2), "; "),
			Next: "check that the board runs systemd (systemctl is-system-running: " + clip(state, 40) + ")"}
	}
	if len(units) > 0 {
		var b strings.Builder
		names := make([]string, len(units))
		for i, u := range units {
			names[i] = u.Name
		}
		fmt.Fprintf(&b, "%d failed: %s", len(units), strings.Join(names, ", "))
		journals := v.board.sections["journal"]
		for _, u := range units {
			for _, j := range journals {
				if j.Arg != u.Name {
					continue
				}
				fmt.Fprintf(&b, "\n%s (%s):", u.Name, clip(u.Description, 60))
				for _, l := range lastLines(j.Body, 5) {
					b.WriteString("\n  " + l)
				}
			}
		}
		return Check{Status: Fail, Detail: b.String(),
			Next: fmt.Sprintf("read `journalctl -b -u %s` on the board, fix its configuration and push again", units[0].Name)}
	}
	switch state {
	case "running":
		return Check{Status: OK, Detail: "no failed units; the system is running"}
	case "starting", "initializing":
		return Check{Status: Warn, Detail: "no failed units yet, but the system is still " + state,
			Next: "wait until it has started (a minute after boot), then verify again"}
	case "degraded":
		return Check{Status: Warn, Detail: "systemd says degraded, though it lists no failed unit now",
			Next: "look at `systemctl --failed` and `journalctl -b -p err` on the board"}
	}
	return Check{Status: Warn, Detail: "no failed units; systemctl is-system-running says " + clip(state, 60),
		Next: "look at `systemctl status` on the board"}
}
