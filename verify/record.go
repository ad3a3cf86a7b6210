package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// resolveClosure turns --closure into a store path: a link to one (like
// ./result) is followed when it exists here; a store path that is not on
// this machine is taken as written (verify may run from another host
// than the one that built it).
func resolveClosure(p string) (string, error) {
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if !strings.HasPrefix(p, "/nix/store/") || strings.Count(strings.TrimPrefix(p, "/nix/store/"), "/") > 0 {
		return "", fmt.Errorf("%s is not a store path (/nix/store/HASH-NAME) nor a link to one", p)
	}
	return p, nil
}

// pushDetails is what verify reads of a push step's details in run.json
// (deploy.Result's JSON).
type pushDetails struct {
	System      string `json:"system"`
	Fingerprint string `json:"fingerprint"`
}

// lastPushed finds the system the last successful push to the board with
// host key fp sent, newest run first. Run directories are named by their
// UTC start time, so their names sort by age and the search stops at the
// first match.
func lastPushed(stateDir, fp string) (system, from string) {
	base := filepath.Join(stateDir, "runs")
	ents, err := os.ReadDir(base)
	if err != nil {
		return "", ""
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, n := range names {
		rec, err := runrec.Load(filepath.Join(base, n))
		if err != nil {
			continue
		}
		for i := len(rec.Steps) - 1; i >= 0; i-- {
			s := rec.Steps[i]
			if s.Step != step.Push || s.Outcome != runrec.Success || len(s.Details) == 0 {
				continue
			}
			var d pushDetails
			if json.Unmarshal(s.Details, &d) == nil && d.System != "" && d.Fingerprint == fp {
				return d.System, "the push of run " + rec.ID
			}
		}
	}
	return "", ""
}
