package nixrun

import (
	"fmt"
	"strings"
)

// Progress is how far a `nix build` has come. The JSON names are those of
// flash's `build` event, which embeds it.
type Progress struct {
	Built      int    `json:"built"`      // derivations built
	Total      int    `json:"total"`      // derivations to build
	Running    int    `json:"running"`    // derivations building now
	Downloaded int    `json:"downloaded"` // store paths fetched from caches
	Downloads  int    `json:"downloads"`  // store paths to fetch
	Bytes      int64  `json:"bytes"`      // bytes downloaded
	Activity   string `json:"activity"`   // what nix does now: "building edk2-jetson"
	Done       bool   `json:"done,omitempty"`
}

// Summary is "3/10 built, 12/40 fetched, 120.0 MiB downloaded", "" before
// anything is known.
func (p Progress) Summary() string {
	var parts []string
	if p.Total > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d built", p.Built, p.Total))
	}
	if p.Downloads > 0 || p.Downloaded > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d fetched", p.Downloaded, max(p.Downloads, p.Downloaded)))
	}
	if p.Bytes > 0 {
		parts = append(parts, fmt.Sprintf("%.1f MiB downloaded", float64(p.Bytes)/(1<<20)))
	}
	return strings.Join(parts, ", ")
}

// Line is the one-line form steps print: "build REF: 3/10 built, 1/2
// fetched · building x", "(done)" at the end.
func (p Progress) Line(ref string) string {
	s := "build " + ref
	if sum := p.Summary(); sum != "" {
		s += ": " + sum
	}
	if p.Done {
		return s + " (done)"
	}
	if p.Activity != "" {
		s += " · " + p.Activity
	}
	return s
}

// maxActivities bounds the activity table: a log that starts activities
// and never stops them costs no more than this.
const maxActivities = 1 << 16

// Tracker folds a build's internal-json lines into Progress, keyed by
// activity id. Measured on Nix 2.8 (testdata/internal-json-2.8.log): the
// builds activity (104) reports [done, expected, running, failed]
// derivations; each build (105) starts with "building '<drv>'"; a path
// from a cache is a substitution (108) wrapping a copy (100) from the
// cache to "local", and the copy-paths activity (103) reports [done,
// expected] substitutions; downloads (101) report [bytes, expected].
// Substitutions are counted once, by their 108 stop or 103's count,
// whichever is higher (counting the inner copies too would count each
// path twice). The zero value is ready.
type Tracker struct {
	p        Progress
	types    map[uint64]int   // open activity -> type
	transfer map[uint64]int64 // open download -> bytes so far
	finished int64            // bytes of downloads that ended
	substs   int              // substitutions stopped
}

// Feed takes one line and reports whether the progress changed.
func (t *Tracker) Feed(l Line) bool {
	if !l.JSON {
		return false
	}
	if t.types == nil {
		t.types, t.transfer = map[uint64]int{}, map[uint64]int64{}
	}
	switch l.Action {
	case "start":
		if len(t.types) < maxActivities {
			t.types[l.ID] = l.Type
		}
		switch l.Type {
		case ActBuild:
			t.p.Activity = shorten(l.Text)
			return true
		case ActCopyPath:
			if src := l.Str(1); src != "" && src != "local" {
				t.p.Activity = shorten(l.Text)
				return true
			}
		}
	case "stop":
		typ, ok := t.types[l.ID]
		if !ok {
			return false
		}
		delete(t.types, l.ID)
		switch typ {
		case ActSubstitute:
			t.substs++
			t.p.Downloaded = max(t.p.Downloaded, t.substs)
			t.p.Downloads = max(t.p.Downloads, t.p.Downloaded)
			return true
		case ActFileTransfer:
			t.finished += t.transfer[l.ID]
			delete(t.transfer, l.ID)
		}
	case "result":
		if l.Type != ResProgress || len(l.Fields) < 2 {
			return false
		}
		done, expected := int(l.Int(0)), int(l.Int(1))
		switch t.types[l.ID] {
		case ActBuilds:
			t.p.Built, t.p.Total, t.p.Running = done, expected, int(l.Int(2))
		case ActCopyPaths:
			t.p.Downloaded = max(t.p.Downloaded, done)
			t.p.Downloads = max(t.p.Downloads, expected, t.p.Downloaded)
		case ActFileTransfer:
			t.transfer[l.ID] = int64(done)
			t.p.Bytes = t.finished
			for _, b := range t.transfer {
				t.p.Bytes += b
			}
		default:
			return false
		}
		return true
	}
	return false
}

// Progress is the state so far.
func (t *Tracker) Progress() Progress { return t.p }

// end closes the build: Done when ok, every derivation counted built.
func (t *Tracker) end(ok bool) {
	t.p.Done, t.p.Activity, t.p.Running = ok, "", 0
	if ok && t.p.Total > 0 {
		t.p.Built = t.p.Total
	}
}

// shorten turns "building '/nix/store/<hash>-name.drv'" into "building
// name".
func shorten(s string) string {
	s = Clean(s)
	for {
		i := strings.Index(s, "/nix/store/")
		if i < 0 {
			break
		}
		rest := s[i+len("/nix/store/"):]
		if j := strings.IndexByte(rest, '-'); j >= 0 && j <= 32 {
			rest = rest[j+1:]
		}
		s = s[:i] + rest
	}
	s = strings.NewReplacer("'", "", ".drv", "").Replace(s)
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}
