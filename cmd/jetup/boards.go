package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/bundle"
	"github.com/jetup/jetup/step"
)

func (a *app) boardsCommand() *cobra.Command {
	var receipt string
	cmd := &cobra.Command{
		Use:   "boards [--json] [--receipt FILE]",
		Short: "List the boards jetup keeps manifests for; read a receipt a board sent home",
		Long: `List the boards in jetup's home mirror: address, host key fingerprint,
current system, and how old the manifest is that the next bundle will be
made against (with the last bundle the board applied and the last one
written for it)..`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state, err := a.state()
			if err != nil {
				return err
			}
			m := bundle.MirrorIn(state)
			if receipt != "" {
				return a.readReceipt(m, receipt)
			}
			return a.listBoards(m)
		},
	}
	cmd.Flags().StringVar(&receipt, "receipt", "", "update the home mirror from this receipt (written by the board after a bundle)")
	return cmd
}

// boardRow is a board as `jetup boards --json` prints it.
type boardRow struct {
	bundle.Board
	ManifestAge float64 `json:"manifest_age_seconds"`
}

func (a *app) listBoards(m bundle.Mirror) error {
	boards, err := m.List()
	if err != nil {
		return step.Errorf("state-dir", "check the state dir", "reading %s: %v", m.Dir, err)
	}
	now := time.Now()
	if a.json {
		rows := make([]boardRow, 0, len(boards))
		for _, b := range boards {
			rows = append(rows, boardRow{Board: b, ManifestAge: now.Sub(b.ManifestTime).Round(time.Second).Seconds()})
		}
		return writeJSON(a.stdout, rows)
	}
	if len(boards) == 0 {
		fmt.Fprintln(a.stdout, "no boards yet: jetup push records a board's manifest, and so do jetup manifest --host H and --from FILE")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tFINGERPRINT\tHOSTNAME\tCURRENT\tMANIFEST\tAPPLIED/WRITTEN")
	for _, b := range boards {
		host := b.Host
		if host == "" {
			host = "-"
		} else if b.Port != 0 && b.Port != 22 {
			host = fmt.Sprintf("%s:%d", host, b.Port)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\n", host, b.Fingerprint, dash(b.Hostname), dash(systemName(b.Current)),
			age(now.Sub(b.ManifestTime))+" ("+b.ManifestFrom+")", b.Applied, b.Issued)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// systemName is a store path's name, without the hash.
func systemName(p string) string {
	if bundle.IsStorePath(p) {
		return bundle.NameOf(p)
	}
	return p
}

// age says how long ago, in the largest unit that fits.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func (a *app) readReceipt(m bundle.Mirror, file string) error {
	raw, err := readFileBounded(file, bundle.MaxReceipt)
	if err != nil {
		return step.Refuse("usage", "pass the receipt the board wrote (/nix/var/jetup/receipts/receipt-N.json)", "%v", err)
	}
	rec, err := m.Receive(raw)
	switch {
	case errors.Is(err, bundle.ErrUnknownBoard), errors.Is(err, bundle.ErrUnknownBundle):
		return step.Refuse("unknown-bundle", "record the board's manifest again (jetup manifest --host H, or --from the file sh BUNDLE --manifest prints)", "%s: %v", file, err)
	case err != nil:
		return step.Refuse("bad-receipt", "pass the receipt as the board wrote it", "%s: %v", file, err)
	}
	a.printResult(rec)
	return nil
}
