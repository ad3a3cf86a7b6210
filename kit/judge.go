package kit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// Verdict is the field-kit finding of `jetup doctor --profile P`.
type Verdict struct {
	// Status is "ok" (a whole, current kit that holds what the profile's
	// steps use), "warn" (stale, partial, broken, or none while online)
	// or "fail" (offline with no whole kit: the steps cannot run).
	Status string
	Detail string
	Next   string
	// Kit is the kit judged ("" when none).
	Kit string
	// BlocksFlashing is set when offline and the flash script is in no
	// whole kit.
	BlocksFlashing bool
}

// Judge looks at the kits for profile p: the newest whole one, what it
// lacks for the profile's steps, whether it is current.
func Judge(ctx context.Context, nx *nixrun.Nix, state string, p *profiles.Profile) Verdict {
	offline := nx != nil && nx.Offline
	prep := "jetup prepare --profile " + p.Name
	all, err := List(ctx, nx, state)
	if err != nil {
		return Verdict{Status: "warn", Detail: "cannot read the kits: " + err.Error(), Next: "check the state directory"}
	}
	whole, broken := forProfile(all, p.Name)
	if len(whole) == 0 {
		v := Verdict{Status: "warn", Detail: "no kit for " + p.Name, Next: "run `" + prep + "` while online, before the network is gone"}
		for _, h := range broken {
			if h.Manifest != nil {
				v.Kit = h.Name
				v.Detail = fmt.Sprintf("kit %s is broken: %s", h.Name, h.Why())
				v.Next = "run `" + RefreshCommand(h.Manifest) + "` while online"
				break
			}
		}
		if offline {
			v.Status = "fail"
			v.Detail += "; offline, the steps that build cannot run"
			v.BlocksFlashing = p.HasStep(step.Flash) && p.Flash != nil
		}
		return v
	}
	h := whole[0]
	m := h.Manifest
	var ids []string
	for _, a := range m.Artifacts {
		ids = append(ids, string(a.ID))
	}
	v := Verdict{Status: "ok", Kit: h.Name,
		Detail: fmt.Sprintf("kit %s: %s (%s, made %s)", h.Name, strings.Join(ids, ", "), Bytes(m.Size), Age(m.Created, time.Now()))}
	if missing := Missing(m, p); len(missing) > 0 {
		var names []string
		for _, id := range missing {
			names = append(names, id.Title())
		}
		v.Status = "warn"
		v.Detail += "; it does not hold the " + strings.Join(names, " or the ") + " the profile's steps use"
		v.Next = "run `" + RefreshCommand(m) + "` while online"
	}
	cur := Current(ctx, nx, m, p)
	switch cur.State {
	case StateStale:
		v.Status = "warn"
		v.Detail += "; stale: " + strings.Join(cur.Reasons, "; ")
		v.Next = "run `" + cur.Refresh + "` while online"
	case StateUnknown:
		v.Detail += " (" + strings.Join(cur.Reasons, "; ") + ")"
	}
	return v
}
