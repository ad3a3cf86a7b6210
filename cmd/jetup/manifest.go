package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/bundle"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

type manifestFlags struct {
	boardFlags
	profilePath string
	from        string
}

func (a *app) manifestCommand() *cobra.Command {
	var f manifestFlags
	cmd := &cobra.Command{
		Use:   "manifest (--host H | --from MANIFEST.json) [--profile-path P]",
		Short: "Record what a board's Nix store holds, for the next offline bundle",
		Long: `Record a board's manifest in jetup's home mirror (under --state-dir,
keyed by the board's pinned host key): the valid paths of its profile's
generations (the system's, or --profile-path's) with their NAR hash and
size, its current system, the last bundle it applied and whether it can
decode binary deltas. jetup bundle --for makes bundles against it.

--host reads it over SSH, the host key pinned as push pins it (push records
it by itself after every push). --from records a manifest the board printed
with "sh BUNDLE --manifest" and that came home by other means.

Exit status: 0 recorded, 1 failed, 2 refused (host key, bad manifest).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.manifest(cmd, f) },
	}
	fl := cmd.Flags()
	f.register(cmd, "the board's address", "login user")
	fl.StringVar(&f.profilePath, "profile-path", "", "the Nix profile to cover (default /nix/var/nix/profiles/system)")
	fl.StringVar(&f.from, "from", "", "record this manifest file (printed by sh BUNDLE --manifest on the board)")
	return cmd
}

func (a *app) manifest(cmd *cobra.Command, f manifestFlags) error {
	if (f.target.Host == "") == (f.from == "") {
		return step.Refuse("usage", "pass --host with the board's address, or --from with a manifest file", "give one of --host and --from")
	}
	state, err := a.state()
	if err != nil {
		return err
	}
	mirror := bundle.MirrorIn(state)
	if f.from != "" {
		return a.manifestFromFile(mirror, f.from)
	}
	return a.recordStep(step.Bundle, a.profileName, func(rs *runrec.Step) (runrec.Outcome, string, error) {
		logf, err := rs.OpenLog("log")
		if err != nil {
			return "", "", err
		}
		defer logf.Close()
		c, err := bundle.Collect(cmd.Context(), a.hardware().Push.SSH, mirror, bundle.CollectOptions{
			Target: f.target, Profile: f.profilePath, From: "ssh", Log: logf,
			Trust: a.trust(f.boardFlags),
		}, a.pushSink(logf))
		if err != nil {
			return "", "", err
		}
		_ = rs.SetDetails(c.Board)
		a.printResult(c)
		return runrec.Success, c.Text(), nil
	})
}

func (a *app) manifestFromFile(m bundle.Mirror, file string) error {
	raw, err := readFileBounded(file, bundle.MaxManifest)
	if err != nil {
		return step.Refuse("usage", "pass the manifest file the board printed (sh BUNDLE --manifest > manifest.json)", "%v", err)
	}
	bd, err := m.Record(raw, bundle.Seen{From: "file"})
	if err != nil {
		return step.Refuse("bad-manifest", "pass the JSON the board printed with sh BUNDLE --manifest, unchanged", "%s: %v", file, err)
	}
	_, man, _ := m.Manifest(bd.Fingerprint)
	a.printResult(bundle.Collected{Event: "manifest", Board: *bd, Manifest: man, Bytes: len(raw)})
	return nil
}

// readFileBounded reads a file jetup did not write, refusing one larger
// than max.
func readFileBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > max {
		return nil, fmt.Errorf("%s: not a regular file of at most %d bytes", path, max)
	}
	buf := make([]byte, st.Size()+1)
	n, _ := f.ReadAt(buf, 0)
	if int64(n) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return buf[:n], nil
}
