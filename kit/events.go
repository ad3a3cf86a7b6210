package kit

import (
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/nixrun"
)

// The events of a prepare. Each carries "event" in its JSON (the
// `jetup prepare --json` line format): plan, stage, estimate, build,
// artifact, result.

// Planned is one artifact a prepare will pin.
type Planned struct {
	ID  ID     `json:"id"`
	Ref string `json:"ref"`
}

// Plan is what the prepare will do, first.
type Plan struct {
	Event     string    `json:"event"` // "plan"
	At        time.Time `json:"at"`
	Kit       string    `json:"kit"`
	Profile   string    `json:"profile"`
	Artifacts []Planned `json:"artifacts"`
	// Replaces is set when a kit of this name exists: it stays whole
	// until the new one is complete.
	Replaces bool `json:"replaces,omitempty"`
}

func (p Plan) Text() string {
	var parts []string
	for _, a := range p.Artifacts {
		parts = append(parts, fmt.Sprintf("%s (%s)", a.ID.Title(), a.Ref))
	}
	verb := "preparing"
	if p.Replaces {
		verb = "refreshing"
	}
	return fmt.Sprintf("%s kit %s for %s: %s", verb, p.Kit, p.Profile, strings.Join(parts, ", "))
}

// Phases of a prepare, in order.
const (
	PhaseLock     = "lock"     // nix flake metadata: the flake's locked revision
	PhaseEstimate = "estimate" // nix build --dry-run: what is to be fetched and built
	PhaseArchive  = "archive"  // nix flake archive: the sources and inputs
	PhaseBuild    = "build"    // nix build (or nix store add-file for --image)
	PhasePin      = "pin"      // the GC roots in the kit's directory
)

// Stage is a step of the prepare, for one artifact or for the kit.
type Stage struct {
	Event    string    `json:"event"` // "stage"
	At       time.Time `json:"at"`
	Phase    string    `json:"phase"`
	Artifact ID        `json:"artifact,omitempty"`
	Message  string    `json:"message"`
}

func (s Stage) Text() string { return s.Message }

// Estimate is what the prepare will add to the store, said before
// anything is built.
type Estimate struct {
	Event string    `json:"event"` // "estimate"
	At    time.Time `json:"at"`
	// Fetch is the unpacked size of the paths nix will fetch (its
	// dry-run's figure); Files what --image adds.
	Fetch int64 `json:"fetch_bytes"`
	Files int64 `json:"file_bytes,omitempty"`
	// Builds is the number of derivations to build: their size is known
	// only once built.
	Builds int `json:"builds"`
	// Free is the free space of the store's file system.
	Free int64 `json:"free_bytes"`
}

// Needed is the known part of what the kit adds.
func (e Estimate) Needed() int64 { return e.Fetch + e.Files }

func (e Estimate) Text() string {
	var parts []string
	if e.Fetch > 0 {
		parts = append(parts, Bytes(e.Fetch)+" to fetch")
	}
	if e.Files > 0 {
		parts = append(parts, Bytes(e.Files)+" of image to add")
	}
	if e.Builds > 0 {
		parts = append(parts, fmt.Sprintf("%d derivation(s) to build (their size is known once built)", e.Builds))
	}
	if len(parts) == 0 {
		parts = append(parts, "everything is in the store already")
	}
	return strings.Join(parts, ", ") + "; " + Bytes(e.Free) + " free in " + StoreDir
}

// BuildProgress is nix's progress while an artifact builds.
type BuildProgress struct {
	Event    string    `json:"event"` // "build"
	At       time.Time `json:"at"`
	Artifact ID        `json:"artifact"`
	nixrun.Progress
}

func (b BuildProgress) Text() string {
	s := b.Artifact.Title() + ": "
	if sum := b.Summary(); sum != "" {
		s += sum
	} else {
		s += "evaluating"
	}
	if b.Done {
		return s + " (done)"
	}
	if b.Activity != "" {
		s += " · " + b.Activity
	}
	return s
}

// Pinned is one artifact done: built and held by a GC root.
type Pinned struct {
	Event       string    `json:"event"` // "artifact"
	At          time.Time `json:"at"`
	Artifact    ID        `json:"artifact"`
	StorePath   string    `json:"store_path"`
	ClosureSize int64     `json:"closure_size"`
}

func (p Pinned) Text() string {
	return fmt.Sprintf("%s: %s (%s with its closure)", p.Artifact.Title(), p.StorePath, Bytes(p.ClosureSize))
}

// Prepared is the prepare's result.
type Prepared struct {
	Event string `json:"event"` // "result"
	Dir   string `json:"dir"`
	Manifest
}

func (p Prepared) Text() string {
	var parts []string
	for _, a := range p.Artifacts {
		parts = append(parts, string(a.ID))
	}
	return fmt.Sprintf("kit %s for %s: %s, %s in the store, pinned in %s", p.Name, p.Profile,
		strings.Join(parts, ", "), Bytes(p.Size), p.Dir)
}

// Bytes is a size for people: "1.2 GiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
