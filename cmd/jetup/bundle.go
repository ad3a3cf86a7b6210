package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/bundle"
	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

type bundleFlags struct {
	o     bundle.Options
	split string
	kit   string
}

func (a *app) bundleCommand() *cobra.Command {
	var f bundleFlags
	cmd := &cobra.Command{
		Use:   "bundle (--closure P | --flake REF#NAME | --kit KIT) (--for HOST|FINGERPRINT | --base MANIFEST.json) -o FILE [--sign-key FILE] [--split SIZE] [--decoder PATH] [--no-deltas]",
		Short: "Write a signed offline bundle of only what a board lacks",
		Long: `Write one self-contained file for a board on a thin link (or none): a POSIX
sh script and, after it, a tar of a zstd binary cache of exactly the
closure's paths that the board's manifest lacks, signed with a Nix secret
key, with the manifest it was made against, the target and a SHA-256 list.
Its signed header names the board (host key), the manifest (hash), a
sequence number (the board refuses a replay), the target and the SHA-256 of
every part.

For a path whose name (without hash and version) matches one the board has,
the bundle may carry a zstd patch (--patch-from, long window) against the
NAR of the board's old path instead of the whole NAR, whichever is smaller;
the board rebuilds the NAR and checks its hash against the signed narinfo
before importing. Only a board whose manifest names a decoder (zstd >=
1.4.5) gets deltas, or one this bundle ships a decoder to: --decoder PATH,
a static zstd built for the board (nix build
nixpkgs#pkgsCross.aarch64-multiplatform.pkgsStatic.zstd.bin), which the
board runs from the bundle to decode it and keeps for the next ones.

--kit KIT takes the system closure a field kit holds (jetup prepare
--system), checked whole first: no build, no network.

The manifest is the one jetup recorded for the board (--for, see jetup
boards), or a file the board printed (--base). The key is --sign-key (nix key
generate-secret --key-name NAME > FILE), else jetup's own, made once under
the state dir (keys/bundle-signing.sec, its public half beside it): the board
must trust its public key (nix.settings.trusted-public-keys, or --trust-key
on the board).

On the board, as root: sh FILE --check, then sh FILE --switch (or --boot);
sh FILE --help lists the options. --split SIZE writes FILE.part000... and
FILE.sha256: the board names a damaged part by its number (cat FILE.part* >
FILE joins them, or run sh FILE.part000 beside the others).

Exit status: 0 written, 1 failed, 2 refused (bad input, unknown board, a
system for another architecture).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.bundle(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.o.Closure, "closure", "", "store path of the built system (or a link to it, like ./result)")
	fl.StringVar(&f.o.Flake, "flake", "", "REF#NAME: build nixosConfigurations.NAME's toplevel first")
	fl.StringVar(&f.kit, "kit", "", "take the system closure from this field kit (jetup kits)")
	fl.StringVar(&f.o.For, "for", "", "the board: its address or host key fingerprint (jetup boards)")
	fl.StringVar(&f.o.Base, "base", "", "make it against this manifest (printed on the board by sh BUNDLE --manifest)")
	fl.StringVarP(&f.o.Output, "output", "o", "", "the bundle file to write")
	fl.StringVar(&f.o.SignKey, "sign-key", "", "Nix secret key file to sign with (default: jetup's own, under the state dir)")
	fl.StringVar(&f.split, "split", "", "cut it into parts of SIZE (bytes, or with K, M, G), at least 64K")
	fl.StringVar(&f.o.ProfilePath, "profile-path", "", "a Nix profile to set instead of NixOS's system (a board with Nix but not NixOS)")
	fl.StringVar(&f.o.Decoder, "decoder", "", "ship this static zstd (a store path built for the board) so a board without one gets deltas")
	fl.BoolVar(&f.o.NoDeltas, "no-deltas", false, "send whole NARs even to a board that can decode binary deltas")
	fl.IntVar(&f.o.Level, "level", bundle.DefaultLevel, "zstd level of the NARs (1-22)")
	return cmd
}

// parseSize reads 1048576, 512K, 100M or 2G (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch strings.ToUpper(s[len(s)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(strings.ToUpper(s), "I"), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (100M, 1G, bytes)", s)
	}
	return n * mult, nil
}

func (a *app) bundle(cmd *cobra.Command, f bundleFlags) error {
	if f.split != "" {
		n, err := parseSize(f.split)
		if err != nil {
			return step.Refuse("usage", "pass --split 100M (K, M and G are powers of 1024)", "--split: %v", err)
		}
		f.o.Split = n
	}
	state, err := a.state()
	if err != nil {
		return err
	}
	if f.kit != "" {
		if f.o.Closure != "" || f.o.Flake != "" {
			return step.Refuse("usage", "pass one of --closure, --flake and --kit", "--kit %s with --closure or --flake", f.kit)
		}
		if f.o.Closure, err = a.kitSystem(cmd.Context(), state, f.kit); err != nil {
			return err
		}
	}
	f.o.KeyDir = filepath.Join(state, "keys")
	return a.recordStep(step.Bundle, a.profileName, func(rs *runrec.Step) (runrec.Outcome, string, error) {
		logf, err := rs.OpenLog("log")
		if err != nil {
			return "", "", err
		}
		defer logf.Close()
		f.o.Log = logf
		hw := a.hardware()
		res, err := bundle.Write(cmd.Context(), bundle.Edge{Nix: hw.Nix, Runner: hw.Runner}, bundle.MirrorIn(state), f.o, a.pushSink(logf))
		if err != nil {
			return "", "", err
		}
		_ = rs.SetDetails(res)
		a.printResult(res)
		return runrec.Success, fmt.Sprintf("bundle %d for %s: %d paths, %s", res.Sequence, res.Board, res.Paths, bundle.MiB(res.Bytes)), nil
	})
}

// kitSystem is the system closure field kit name holds, once the kit is
// checked whole (every path pinned and in the store).
func (a *app) kitSystem(ctx context.Context, state, name string) (string, error) {
	h, err := kit.Inspect(ctx, a.hardware().Nix, state, name)
	if err != nil {
		return "", err
	}
	if !h.Whole() {
		return "", step.Refuse(string(kit.CauseNotInKit), "jetup kits show "+name+" says what is missing; prepare it again while online (jetup prepare --name "+name+")",
			"kit %s is %s: %s", name, h.State(), h.Why())
	}
	art, ok := h.Manifest.Get(kit.System)
	if !ok {
		return "", step.Refuse(string(kit.CauseNotInKit), "prepare a kit with the board's system: jetup prepare --profile "+h.Manifest.Profile+" --system FLAKE#NAME",
			"kit %s holds no system closure", name)
	}
	return art.StorePath, nil
}
