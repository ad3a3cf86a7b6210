package main

import (
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

func (a *app) prepareCommand() *cobra.Command {
	var o struct{ system, image, name string }
	cmd := &cobra.Command{
		Use:   "prepare --profile P [--system FLAKE#NAME|PATH] [--image FILE] [--name KIT]",
		Short: "Prepare a field kit: everything the board's bring-up builds, for use with no network",
		Long: `Prepare a field kit while online: build or fetch everything the profile's steps
use (the flash script, the installer image, and with --system a NixOS system
closure), fetch the flakes' sources and inputs into the store (nix flake
archive) so they evaluate offline, and pin every result as a GC root under
<state-dir>/kits/KIT/ (one link per artifact, made by nix build --out-link,
so nix-store --gc keeps them). The manifest, kit.json, records the profile and
each artifact's flake ref, locked revision, store path, size and time.

Every flake is evaluated and the store's free space compared with what nix
will fetch before anything is built. A kit of the same name stays whole until
the new one is complete; a prepare that fails leaves it as it was.

Later, with --offline (or on a host with no route out), each step takes its
artifact from the newest whole kit for the profile, and a step whose artifact
is in no kit is refused before it starts. jetup kits lists the kits.

Exit status: 0 prepared, 1 failed (a build), 2 refused before building (bad
input, a flake that does not evaluate, a disk too small).`,
		Example: `  jetup prepare --profile orin-nano-devkit
  jetup prepare --profile orin-nano-devkit --system ~/boards#lab-3 --name lab-3
  jetup prepare --profile rpi4 --image nixos-sd-image.img.zst --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.profile(true)
			if err != nil {
				return err
			}
			state, err := a.state()
			if err != nil {
				return err
			}
			var sys *kit.SystemRef
			if o.system != "" {
				sys = &kit.SystemRef{Ref: o.system}
				if strings.Contains(o.system, "#") {
					// The push builds FLAKE#NAME as this expansion: the
					// kit holds the very build the push will ask for.
					inst, err := deploy.FlakeInstallable(o.system)
					if err != nil {
						return step.Refuse(string(kit.CauseBadSystem), "pass --system FLAKE#NAME or a built system's path", "%v", err)
					}
					sys.Installable = inst
				}
			}
			if a.off.on && !a.json {
				fmt.Fprintln(a.stderr, "jetup: offline: only local flakes and what the store already holds can be prepared")
			}
			b := a.hardware()
			return a.recordStep(step.Prepare, p.Name, func(rs *runrec.Step) (runrec.Outcome, string, error) {
				logf, err := rs.OpenLog("log")
				if err != nil {
					return "", "", err
				}
				defer logf.Close()
				sink := a.prepareSink(logf)
				res, err := kit.Prepare(cmd.Context(), kit.Options{State: state, Name: o.name, Profile: p, System: sys, Image: o.image,
					Nix: b.Nix, Log: logf, Jetup: jetupVersion()}, sink)
				if err != nil {
					return "", "", err
				}
				_ = rs.SetDetails(res.Manifest)
				if !a.json {
					fmt.Fprintln(a.stdout, res.Text())
					tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
					for _, art := range res.Artifacts {
						fmt.Fprintf(tw, "  %s\t%s\t%s\n", art.ID, kit.Bytes(art.ClosureSize), art.StorePath)
					}
					fmt.Fprintf(tw, "  total\t%s\t\n", kit.Bytes(res.Size))
					_ = tw.Flush()
				}
				return runrec.Success, res.Text(), nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.system, "system", "", "also pin a NixOS system: FLAKE#NAME (nixosConfigurations.NAME), or a built system's path (./result)")
	f.StringVar(&o.image, "image", "", "pin this installer image instead of building the profile's")
	f.StringVar(&o.name, "name", "", "the kit's name (default: the profile's)")
	return cmd
}

// prepareSink prints a prepare's events: JSON lines on stdout with
// --json; otherwise text, build progress at most every two seconds per
// artifact. The log gets them all.
func (a *app) prepareSink(log *runrec.Log) step.Sink {
	logSink := log.Printer()
	if a.json {
		return step.Tee(step.NewPrinter(a.stdout, true), logSink)
	}
	out := step.NewPrinter(a.stdout, false)
	var mu sync.Mutex
	last := map[kit.ID]time.Time{}
	return step.Tee(logSink, step.SinkFunc(func(e step.Event) {
		switch ev := e.(type) {
		case kit.BuildProgress:
			mu.Lock()
			skip := !ev.Done && time.Since(last[ev.Artifact]) < 2*time.Second
			if !skip {
				last[ev.Artifact] = time.Now()
			}
			mu.Unlock()
			if skip {
				return
			}
		case kit.Prepared:
			return // the summary is printed after
		}
		out.Emit(e)
	}))
}
