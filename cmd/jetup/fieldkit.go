package main

import (
	"context"

	"github.com/jetup/jetup/doctor"
	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/profiles"
)

// fieldKitCheck is doctor's field-kit finding for the profile (doctor
// does not import kit: the CLI hands the check in).
func fieldKitCheck(nx *nixrun.Nix, state string, p *profiles.Profile) func(context.Context) doctor.Finding {
	return func(ctx context.Context) doctor.Finding {
		v := kit.Judge(ctx, nx, state, p)
		return doctor.Finding{ID: "field-kit", Title: "field kit", Status: doctor.Status(v.Status),
			Detail: v.Detail, Next: v.Next, BlocksFlashing: v.BlocksFlashing}
	}
}
