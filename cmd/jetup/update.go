package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/image"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

type updateFlags struct {
	boardFlags
	gpgKey    string
	verifyKey string
	boardDir  string
	reboot    bool
	noReboot  bool
}

func (a *app) updateCommand() *cobra.Command {
	var f updateFlags
	cmd := &cobra.Command{
		Use:   "update --host H DIR|FILE",
		Short: "Update a booted board with a systemd-sysupdate directory or an SWUpdate .swu",
		Long: `Update a board over SSH, its host key pinned as push pins it, with the board's
own updater.

A sysupdate directory (files named <id>_<version>... and SHA256SUMS) is
checked against SHA256SUMS (and SHA256SUMS.gpg with --gpg-key, by gpgv),
the files the board lacks are copied to the directory its transfer files'
[Source] Path= names (or --board-dir), and systemd-sysupdate update applies
them. A .swu is checked (every sha256 in sw-description; sw-description.sig
with --verify-key: an RSA public key, or the CA certificate for CMS, checked
with openssl as SWUpdate checks it), its hardware-compatibility is compared
with the board's /etc/hwrevision (and its architecture when the list names
one), then it is sent and applied with swupdate -i.

Nothing is sent before every check passed. Without a key nothing is
signature-checked, and jetup says so. The new version is reported and a
reboot offered (--reboot, --no-reboot).

Exit status: 0 applied, 1 the updater failed or the board was lost (its
exit code and last error explained), 2 refused before sending anything.`,
		Example: `  jetup update --host 192.168.1.50 ./sysupdate-1.2.4/
  jetup update --host board.local --verify-key swupdate-public.pem update.swu --reboot`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.update(cmd.Context(), f, args[0]) },
	}
	fl := cmd.Flags()
	f.register(cmd, "the board's address", "login user (with sudo -n when not root)")
	fl.StringVar(&f.gpgKey, "gpg-key", "", "check SHA256SUMS.gpg of a sysupdate directory with this public key")
	fl.StringVar(&f.verifyKey, "verify-key", "", "check a .swu's sw-description.sig: RSA public key (PEM) or CMS CA certificate")
	fl.StringVar(&f.boardDir, "board-dir", "", "where the board's sysupdate takes its sources from (default: its transfer files' [Source] Path=)")
	fl.BoolVar(&f.reboot, "reboot", false, "reboot the board into the new version without asking")
	fl.BoolVar(&f.noReboot, "no-reboot", false, "do not reboot and do not ask")
	return cmd
}

func (a *app) update(ctx context.Context, f updateFlags, path string) error {
	if f.target.Host == "" {
		return step.Refuse("usage", "pass --host with the board's address", "no board given")
	}
	if f.reboot && f.noReboot {
		return step.Refuse("usage", "pass one of --reboot and --no-reboot", "--reboot and --no-reboot together")
	}
	if err := remote.CheckHost(f.target.Host); err != nil {
		return step.Refuse("usage", "pass the board's address", "--host: %v", err)
	}
	if err := remote.CheckUser(f.target.UserOrRoot()); err != nil {
		return step.Refuse("usage", "pass a login name", "--user: %v", err)
	}
	hw := a.hardware()
	return a.recordStep(step.Update, a.profileName, func(rs *runrec.Step) (runrec.Outcome, string, error) {
		log, err := rs.OpenLog("log")
		if err != nil {
			return "", "", err
		}
		defer log.Close()
		sink := log.Tee(step.NewPrinter(a.stdout, a.json))
		o := image.UpdateOptions{Target: f.target, Path: path, GPGKey: f.gpgKey, VerifyKey: f.verifyKey, BoardDir: f.boardDir, Log: log,
			Trust: a.trust(f.boardFlags)}
		switch {
		case f.reboot:
			o.Reboot = func(context.Context, string) bool { return true }
		case !f.noReboot && !a.json:
			in := bufio.NewReader(a.stdin)
			o.Reboot = func(_ context.Context, v string) bool {
				fmt.Fprintf(a.stderr, "Reboot %s into %s now? [y/N] ", f.target.Host, v)
				return yes(readLine(in))
			}
		}
		res, err := image.Update(ctx, hw.Update, o, sink)
		if res != nil {
			_ = rs.SetDetails(res)
		}
		if err != nil {
			return "", "", err
		}
		summary := fmt.Sprintf("%s %s applied on %s (sent %s; %s)", res.Kind, orDash(res.Version), f.target.Host, orDash(strings.Join(res.Sent, ", ")), res.Signature)
		if res.Rebooted {
			summary += "; rebooting"
		}
		return runrec.Success, summary, nil
	})
}
