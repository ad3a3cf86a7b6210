package deploy

import (
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// nixSystem maps `uname -m` to the Nix system double a toplevel's `system`
// file holds.
func nixSystem(machine string) string {
	switch machine {
	case "aarch64", "arm64":
		return "aarch64-linux"
	case "x86_64", "amd64":
		return "x86_64-linux"
	case "armv7l", "armv7":
		return "armv7l-linux"
	case "armv6l":
		return "armv6l-linux"
	case "i686", "i586", "i386":
		return "i686-linux"
	case "riscv64":
		return "riscv64-linux"
	}
	return machine + "-linux"
}

// spaceNeeded is the free space the copy needs: the NAR bytes plus a
// tenth for file-system overhead and 64 MiB for the database and logs.
func spaceNeeded(send int64) int64 { return send + send/10 + 64<<20 }

// verdict is preflight's outcome: the checks in order, and the refusal if
// one failed (the first failing check's error).
type verdict struct {
	checks []Check
	refuse *step.Error
}

func (v *verdict) add(c Check, cause Cause) {
	c.Event, c.At = "check", time.Now()
	v.checks = append(v.checks, c)
	if c.Status == CheckFail && v.refuse == nil {
		v.refuse = step.Refuse(string(cause), c.Next, "%s: %s", c.Title, c.Detail)
	}
}

// preflight judges the board against the closure before any store path is
// sent. want is the mode asked for (Auto lets the probe choose).
func preflight(f Facts, system string, want Mode, t remote.Target) *verdict {
	v := &verdict{}
	board := nixSystem(f.Arch)
	if board == system {
		v.add(Check{ID: "arch", Title: "architecture", Status: CheckOK,
			Detail: fmt.Sprintf("%s board, %s system", f.Arch, system)}, "")
	} else {
		v.add(Check{ID: "arch", Title: "architecture", Status: CheckFail,
			Detail: fmt.Sprintf("the board is %s (%s) but the system is built for %s", f.Arch, board, system),
			Next:   fmt.Sprintf("build the system for %s (nixpkgs.hostPlatform = \"%s\"), or push to the right board", board, board)}, CauseWrongArch)
	}

	switch {
	case f.NixVersion == "":
		v.add(Check{ID: "nix", Title: "nix on the board", Status: CheckFail, Detail: "no nix-store on the board's PATH",
			Next: "boot the board into the NixOS installer (jetup write, then the console step) or a NixOS system; jetup needs Nix on the board"}, CauseNoNix)
	case !versionAtLeast(f.NixVersion, "2.4"):
		v.add(Check{ID: "nix", Title: "nix on the board", Status: CheckWarn, Detail: "Nix " + f.NixVersion,
			Next: "Nix before 2.4 receives path by path: slow on a high-latency link"}, "")
	default:
		v.add(Check{ID: "nix", Title: "nix on the board", Status: CheckOK, Detail: "Nix " + f.NixVersion}, "")
	}

	switch f.Priv {
	case "root":
		v.add(Check{ID: "store-write", Title: "store access", Status: CheckOK, Detail: "logged in as root"}, "")
	case "sudo":
		v.add(Check{ID: "store-write", Title: "store access", Status: CheckOK,
			Detail: fmt.Sprintf("%s, with passwordless sudo", f.User)}, "")
	default:
		v.add(Check{ID: "store-write", Title: "store access", Status: CheckFail,
			Detail: fmt.Sprintf("%s is not root and has no passwordless sudo: it cannot write the store or activate", f.User),
			Next:   "log in as root (--user root, with your key in root's authorized_keys), or give " + f.User + " passwordless sudo"}, CauseWrongUser)
	}

	v.add(targetCheck(f, want))
	return v
}

// targetCheck says whether the board is what the mode needs.
func targetCheck(f Facts, want Mode) (Check, Cause) {
	c := Check{ID: "target", Title: "target system"}
	mode := f.Mode
	switch {
	case mode == Installer && !(f.NixOSInstall && f.MntMounted):
		var miss []string
		if !f.NixOSInstall {
			miss = append(miss, "no nixos-install")
		}
		if !f.MntMounted {
			miss = append(miss, "nothing mounted on /mnt")
		}
		c.Status, c.Detail = CheckFail, "not ready for an install: "+strings.Join(miss, ", ")
		c.Next = "boot the NixOS installer on the board, partition and mount the target disk on /mnt, then push again"
		return c, CauseNotInstaller
	case mode == Installer:
		c.Status, c.Detail = CheckOK, "NixOS installer, target mounted on /mnt: nixos-install"
		if want == Auto {
			c.Detail += " (chosen: pass --mode switch to activate on the running system instead)"
		}
		return c, ""
	case !f.NixOS:
		c.Status, c.Detail = CheckFail, "the board does not run NixOS: there is no system to switch"
		c.Next = "boot the NixOS installer on the board, mount the target disk on /mnt and push with --mode installer"
		return c, CauseNotNixOS
	case f.Live:
		c.Status, c.Detail = CheckFail, "the board runs the live installer: a switch would only change the system in RAM"
		c.Next = "mount the target disk on /mnt and push with --mode installer"
		return c, CauseNotInstaller
	}
	c.Status = CheckOK
	c.Detail = fmt.Sprintf("NixOS %s: profile, then switch-to-configuration %s", f.NixOSVersion, mode)
	if f.NixOSVersion == "" {
		c.Detail = fmt.Sprintf("NixOS: profile, then switch-to-configuration %s", mode)
	}
	if !f.SystemdRun {
		c.Status = CheckWarn
		c.Detail += "; no systemd-run, so a dropped connection can cut the activation short"
		c.Next = "keep the link up until the activation ends"
	}
	return c, ""
}

// spaceCheck compares the board's free space with what will be sent.
func spaceCheck(f Facts, send int64) (Check, Cause) {
	need := spaceNeeded(send)
	c := Check{ID: "space", Title: "free space"}
	on := f.FreeOn
	if on == "" {
		on = "/nix"
	}
	if f.FreeBytes == 0 && send > 0 {
		c.Status, c.Detail = CheckWarn, "could not read the free space on "+on
		return c, ""
	}
	if f.FreeBytes < need {
		c.Status = CheckFail
		c.Detail = fmt.Sprintf("%s free on %s, %s needed", Size(f.FreeBytes), on, Size(need))
		c.Next = fmt.Sprintf("free %s on the board (nix-collect-garbage -d on %s), or use a larger disk", Size(need-f.FreeBytes), on)
		return c, CauseNoSpace
	}
	c.Status, c.Detail = CheckOK, fmt.Sprintf("%s free on %s, %s needed", Size(f.FreeBytes), on, Size(need))
	return c, ""
}
