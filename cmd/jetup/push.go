package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/bundle"
	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

type pushFlags struct {
	boardFlags
	closure  string
	flake    string
	mode     string
	compress bool
	reboot   bool
	retries  int
	toDir    string
	confirm  time.Duration
	health   string
}

func (a *app) pushCommand() *cobra.Command {
	var f pushFlags
	cmd := &cobra.Command{
		Use:   "push --host H (--closure PATH | --flake REF#NAME) | push --to-dir DIR (--closure PATH | --flake REF#NAME)",
		Short: "Send a NixOS system to a board over SSH and activate it",
		Long: `Send a built NixOS system (its toplevel) to a board over SSH and activate it.

jetup pins the board's host key in its own known_hosts (under --state-dir):
the first contact needs --accept-host-key with the fingerprint the board
shows (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on its console), and
a changed key is refused. One ssh connection carries everything: preflight
(architecture, Nix, store access, installer or installed, free space), the
delta (what the board lacks), nix copy over ssh-ng:// with progress, and the
activation: nixos-install --system onto /mnt on the installer, or the system
profile then switch-to-configuration (under systemd-run) on an installed
system. A copy cut off by a dropped link is resumed (--retries); a new run
sends only what is missing.

After a switch on a board that has an earlier generation, the board runs
the activation itself (under systemd-run where systemd runs), checks its
health (systemd's is-system-running --wait not degraded, and --health CMD)
and waits for jetup to reach it again over a new connection and confirm,
within --confirm-timeout; otherwise it switches back to the previous
generation by itself and deletes the new one, so a system that breaks the
network or sshd, or a link cut during the switch, cannot strand the board.
This covers the live switch only, not a reboot (--reboot, --mode boot).

--to-dir writes the system as a zstd binary cache with jetup-import.sh, for a
stick carried to a board with no network.

Offline (--offline, or a host with no route out) --flake's system comes from
the newest whole field kit that holds it (jetup prepare --system), or the push
is refused (exit 2) before it connects; --closure needs no kit.

Exit status: 0 done, 1 failed, 2 refused (preflight, host key, bad input).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.toDir != "" {
				return a.pushToDir(cmd, f)
			}
			return a.push(cmd, f)
		},
	}
	fl := cmd.Flags()
	f.register(cmd, "the board's address (the console step prints it)", "login user: root, or nixos on the installer (with sudo)")
	fl.StringVar(&f.closure, "closure", "", "store path of a built system toplevel (or a link to it, like ./result)")
	fl.StringVar(&f.flake, "flake", "", "REF#NAME: build nixosConfigurations.NAME's toplevel first")
	fl.StringVar(&f.mode, "mode", "", "installer, switch or boot (default: installer on the live installer with /mnt mounted, else switch)")
	fl.BoolVar(&f.compress, "compress", false, "compress the link (slow links; costs CPU on the board)")
	fl.BoolVar(&f.reboot, "reboot", false, "reboot the board after activating")
	fl.IntVar(&f.retries, "retries", 2, "times a copy cut off by a dropped link is resumed on a new connection")
	fl.StringVar(&f.toDir, "to-dir", "", "write a zstd binary cache and jetup-import.sh to DIR instead of pushing")
	fl.DurationVar(&f.confirm, "confirm-timeout", deploy.DefaultConfirmTimeout, "after a switch, the board switches back by itself unless jetup reaches it again and its health check passes within this (0: off)")
	fl.StringVar(&f.health, "health", "", "a command that must succeed on the board after a switch (besides systemd's own state)")
	return cmd
}

// knownHostsFile is jetup's own known_hosts (remote.KnownHostsPath).
func (a *app) knownHostsFile() string { return remote.KnownHostsPath(a.stateDir, a.sim) }

func (a *app) push(cmd *cobra.Command, f pushFlags) error {
	mode, err := deploy.ParseMode(f.mode)
	if err != nil {
		return step.Refuse("usage", "pass --mode installer, switch or boot", "%v", err)
	}
	return a.recordStep(step.Push, a.profileName, func(rs *runrec.Step) (runrec.Outcome, string, error) {
		if err := a.needSystem(cmd.Context(), f.flake); err != nil {
			return "", "", err
		}
		logf, err := rs.OpenLog("log")
		if err != nil {
			return "", "", err
		}
		defer logf.Close()
		o := deploy.Options{Target: f.target, Closure: f.closure, Flake: f.flake, Mode: mode,
			Trust:    a.trust(f.boardFlags),
			Compress: f.compress, Reboot: f.reboot, Retries: f.retries, Log: logf, Health: f.health, ConfirmTimeout: f.confirm}
		if f.confirm == 0 {
			o.ConfirmTimeout = -1
		}
		sink := a.pushSink(logf)
		if prof, _ := a.profile(false); prof != nil {
			emitTraps(sink, prof, step.Push)
		}
		res, err := deploy.Push(cmd.Context(), a.hardware().Push, o, sink)
		if err != nil {
			return "", "", err
		}
		_ = rs.SetDetails(res)
		_ = rs.Run().SetFact(step.FactIP, f.target.Host)
		_ = rs.Run().SetFact(step.FactHostKey, res.Fingerprint)
		a.printResult(res)
		if res.Mode != deploy.Installer {
			a.recordManifestAfterPush(cmd.Context(), f.target, o.Trust, logf)
		}
		return runrec.Success, res.Text(), nil
	})
}

// recordManifestAfterPush keeps the board's store state in the home
// mirror after a push, so an offline bundle can later be made against it.
// The push has succeeded whatever happens here: a failure is a warning.
// (An installer's store is on /mnt until it reboots: its manifest waits
// for the next push or jetup manifest.)
func (a *app) recordManifestAfterPush(ctx context.Context, t remote.Target, tr remote.Trust, log *runrec.Log) {
	state, err := a.state()
	if err != nil {
		return
	}
	tr.AcceptHostKey, tr.ForgetHostKey, tr.ConsoleHostKey = "", false, ""
	c, err := bundle.Collect(ctx, a.hardware().Push.SSH, bundle.MirrorIn(state),
		bundle.CollectOptions{Target: t, Trust: tr, From: "push", Log: log}, log.Printer())
	if err != nil {
		a.pushSink(log).Emit(step.Warning{At: time.Now(), Warning: "the board's manifest was not recorded: " + err.Error(),
			Next: "run jetup manifest --host " + t.Host + " before making an offline bundle for it"})
		return
	}
	fmt.Fprintln(log, c.Text())
	if !a.json {
		fmt.Fprintln(a.stdout, c.Text())
	}
}

func (a *app) pushToDir(cmd *cobra.Command, f pushFlags) error {
	return a.recordStep(step.Push, a.profileName, func(rs *runrec.Step) (runrec.Outcome, string, error) {
		if err := a.needSystem(cmd.Context(), f.flake); err != nil {
			return "", "", err
		}
		logf, err := rs.OpenLog("log")
		if err != nil {
			return "", "", err
		}
		defer logf.Close()
		res, err := deploy.ToDir(cmd.Context(), a.hardware().Push.Nix,
			deploy.ToDirOptions{Closure: f.closure, Flake: f.flake, Dir: f.toDir, Log: logf}, a.pushSink(logf))
		if err != nil {
			return "", "", err
		}
		_ = rs.SetDetails(res)
		a.printResult(res)
		return runrec.Success, "wrote " + res.Dir, nil
	})
}

func (a *app) printResult(res step.Event) {
	if a.json {
		step.NewPrinter(a.stdout, true).Emit(res)
		return
	}
	fmt.Fprintln(a.stdout, res.Text())
}

// pushSink prints push events: every one as a JSON line with --json;
// otherwise text, with copy progress at most every two seconds. The log
// file gets them all as text.
func (a *app) pushSink(log *runrec.Log) step.Sink {
	logSink := log.Printer()
	if a.json {
		return step.Tee(step.NewPrinter(a.stdout, true), logSink)
	}
	out := step.NewPrinter(a.stdout, false)
	var mu sync.Mutex
	var last time.Time
	return step.Tee(logSink, step.SinkFunc(func(e step.Event) {
		if p, ok := e.(deploy.CopyProgress); ok {
			mu.Lock()
			now := time.Now()
			skip := now.Sub(last) < 2*time.Second && p.PathsDone < p.PathsTotal
			if !skip {
				last = now
			}
			mu.Unlock()
			if skip {
				return
			}
		}
		if b, ok := e.(deploy.BuildProgress); ok && b.Done < b.Expected {
			mu.Lock()
			skip := time.Since(last) < 2*time.Second
			if !skip {
				last = time.Now()
			}
			mu.Unlock()
			if skip {
				return
			}
		}
		out.Emit(e)
	}))
}

// emitTraps says the profile's known traps at the step where they bite
// (an AGX Xavier's UEFI variables on eMMC when a push sets up its boot).
func emitTraps(sink step.Sink, p *profiles.Profile, id step.ID) {
	for _, t := range p.TrapsAt(id) {
		w := t.Warning()
		w.At = time.Now()
		sink.Emit(w)
	}
}

// needSystem is the offline check before a push of --flake: the system
// the push would build must be in a kit (--closure needs none: it is
// built already).
func (a *app) needSystem(ctx context.Context, flake string) error {
	if flake == "" || !a.off.on {
		return nil
	}
	inst, err := deploy.FlakeInstallable(flake)
	if err != nil {
		return nil // the push refuses it with its own words
	}
	return a.needKitFor(ctx, inst)
}
