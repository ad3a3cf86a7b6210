package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/bundle"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

type applyFlags struct {
	check, switchTo, boot bool
	trustKeys             []string
	confirm               string
	health, activate      string
	keep                  int
	receipt               string
}

func (a *app) applyCommand() *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "apply FILE (--check | --switch | --boot) [--trust-key F] [--confirm-timeout 120s] [--health CMD] [--keep N]",
		Short: "Apply an offline bundle on this board (what sh FILE does, with jetup's own copy of the script)",
		Long: `Run on the board itself, as root, what "sh FILE" runs: check everything
before anything changes (every part's SHA-256 against the signed header, the
header's and every path's signature against this board's
trusted-public-keys and --trust-key, the board's host key, the sequence,
that every path the bundle builds on is here, room on /nix), then import
with this board's nix, set the profile, activate, and with --switch confirm
with a health check within --confirm-timeout or roll back to the previous
generation. jetup runs its own copy of the script, not the one in FILE.

Exit status: 0 done, 1 failed (rolled back when it had switched), 2 refused
before any change. The receipt is in /nix/var/jetup/receipts.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sargs []string
			n := 0
			for flag, on := range map[string]bool{"--check": f.check, "--switch": f.switchTo, "--boot": f.boot} {
				if on {
					sargs, n = append(sargs, flag), n+1
				}
			}
			if n != 1 {
				return step.Refuse("usage", "pass one of --check, --switch and --boot", "%d of --check, --switch, --boot given", n)
			}
			for _, k := range f.trustKeys {
				sargs = append(sargs, "--trust-key", k)
			}
			if f.confirm != "" {
				sargs = append(sargs, "--confirm-timeout", f.confirm)
			}
			if f.health != "" {
				sargs = append(sargs, "--health", f.health)
			}
			if f.activate != "" {
				sargs = append(sargs, "--activate", f.activate)
			}
			if f.keep > 0 {
				sargs = append(sargs, "--keep", strconv.Itoa(f.keep))
			}
			if f.receipt != "" {
				sargs = append(sargs, "--receipt", f.receipt)
			}
			code, err := bundle.Apply(cmd.Context(), proc.Host{}, bundle.ApplyOptions{File: args[0], Args: sargs, Stdout: a.stdout, Stderr: a.stderr})
			if err != nil {
				return err
			}
			if code != 0 {
				return silent(code)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.check, "check", false, "check the bundle against this board; change nothing")
	fl.BoolVar(&f.switchTo, "switch", false, "import, set the profile, activate and confirm with a health check, or roll back")
	fl.BoolVar(&f.boot, "boot", false, "import, set the profile, make it the next boot's system")
	fl.StringArrayVar(&f.trustKeys, "trust-key", nil, "also trust this Nix public key file (repeatable)")
	fl.StringVar(&f.confirm, "confirm-timeout", "", "the health check must pass within this (default 120s)")
	fl.StringVar(&f.health, "health", "", "a command that must succeed after the switch (besides systemd's state)")
	fl.StringVar(&f.activate, "activate", "", "for a profile that is not NixOS's system: run this after setting it")
	fl.IntVar(&f.keep, "keep", 0, "after a confirmed switch keep N generations and collect garbage")
	fl.StringVar(&f.receipt, "receipt", "", "also write the receipt to this file")
	return cmd
}
