package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/doctor"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

func (a *app) doctorCommand() *cobra.Command {
	var fix bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this host for flashing and say what to change",
		Long: `Check this host: x86_64, Nix with nix-command and flakes, sudo, libusb, a udev
rule for NVIDIA (0955) devices, USB autosuspend, ModemManager and TLP, serial
group membership, and free space for /nix; with --profile, the profile's field kit
(field-kit: ok for a whole, current kit holding what the profile's steps use;
warn when stale, partial, broken or missing; fail offline with none). Each
miss says what to do; --fix
mends what it can (the udev rule, the serial group, nix.conf), using sudo only
for the changes that need root.

Exit status: 0 when nothing blocks flashing, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var sink step.Sink = step.NewPrinter(a.stdout, false)
			if a.json {
				sink = step.Discard
			}
			p, err := a.profile(false)
			if err != nil {
				return err
			}
			b := a.hardware()
			o := doctor.Options{Fix: fix}
			if p != nil && !a.sim {
				state, err := a.state()
				if err != nil {
					return err
				}
				o.More = append(o.More, fieldKitCheck(b.Nix, state, p))
			}
			return a.recordStep(step.Doctor, a.profileName, func(rs *runrec.Step) (runrec.Outcome, string, error) {
				rep, err := doctor.Run(cmd.Context(), b.Host, o, sink)
				if err != nil {
					return "", "", err
				}
				_ = rs.SetDetails(rep)
				if a.json {
					if err := writeJSON(a.stdout, rep); err != nil {
						return "", "", err
					}
				}
				if rep.ReadyToFlash {
					if !a.json {
						fmt.Fprintln(a.stdout, "\nNothing blocks flashing on this host.")
					}
					return runrec.Success, "ready to flash", nil
				}
				if !a.json {
					fmt.Fprintln(a.stdout, "\nFlashing cannot work on this host until the FAIL lines are fixed.")
				}
				return runrec.Failed, "flashing blocked on this host", silent(step.ExitFailed)
			})
		},
	}
	cmd.Flags().BoolVar(&fix, "fix", false, "mend what can be mended (uses sudo for the udev rule and group changes)")
	return cmd
}
