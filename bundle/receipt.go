package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jetup/jetup/safe"
)

// ReceiptFormat is the "format" of a board's receipt.
const ReceiptFormat = "jetup-receipt/1"

// MaxReceipt bounds a receipt read from a file: a receipt lists the paths
// a bundle added and a garbage collection removed, a few thousand at most.
const MaxReceipt = 16 << 20

// Receipt is what the board writes after applying (or refusing) a bundle,
// small enough for a thin link: `jetup boards --receipt FILE` brings the
// home mirror up to date with it.
type Receipt struct {
	Format       string       `json:"format"`
	Board        string       `json:"board"`
	Sequence     int64        `json:"sequence"`
	Outcome      string       `json:"outcome"` // switched, booted, checked, rolled-back, failed, refused
	Cause        string       `json:"cause,omitempty"`
	Detail       string       `json:"detail,omitempty"`
	Target       string       `json:"target,omitempty"`
	Profile      string       `json:"profile"`
	System       string       `json:"system,omitempty"` // what the profile points to now
	Generation   int          `json:"generation"`
	Generations  []Generation `json:"generations,omitempty"`
	Previous     string       `json:"previous,omitempty"`
	BaseManifest string       `json:"base_manifest,omitempty"`
	Added        []string     `json:"added"`
	Removed      []string     `json:"removed"`
	FreedBytes   int64        `json:"freed_bytes"`
	// RebootNeeded names what of the new system runs only after a reboot
	// (kernel, initrd, kernel-modules, firmware differ from the booted
	// system's); the rollback covered the live switch only.
	RebootNeeded []string `json:"reboot_needed,omitempty"`
	// Decoder is the delta decoder the board has after the bundle
	// ("zstd 1.5.5"), as its manifest would say.
	Decoder string    `json:"decoder,omitempty"`
	Time    time.Time `json:"time"`
}

// rebootParts are what a receipt's reboot_needed may name.
var rebootParts = map[string]bool{"kernel": true, "initrd": true, "kernel-modules": true, "firmware": true}

// Outcomes a receipt may carry.
var outcomes = map[string]bool{"switched": true, "booted": true, "checked": true, "rolled-back": true, "failed": true, "refused": true}

var causeRE = regexp.MustCompile(`^[a-z-]{0,40}$`)

// ParseReceipt reads a receipt as the hostile input it is.
func ParseReceipt(b []byte) (*Receipt, error) {
	if len(b) > MaxReceipt {
		return nil, fmt.Errorf("receipt of %d bytes: more than %d", len(b), MaxReceipt)
	}
	var r Receipt
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&r); err != nil {
		return nil, fmt.Errorf("not a jetup receipt: %v", err)
	}
	switch {
	case r.Format != ReceiptFormat:
		return nil, fmt.Errorf("not a jetup receipt (format %.40q)", r.Format)
	case !IsFingerprint(r.Board):
		return nil, fmt.Errorf("the receipt names no board (%.60q)", r.Board)
	case r.Sequence <= 0:
		return nil, fmt.Errorf("the receipt's sequence %d is not a bundle's", r.Sequence)
	case !outcomes[r.Outcome]:
		return nil, fmt.Errorf("unknown outcome %.40q", r.Outcome)
	case !causeRE.MatchString(r.Cause) || !textRE.MatchString(cleanDetail(r.Detail)):
		return nil, fmt.Errorf("the receipt's cause or detail has characters no board writes")
	case !textRE.MatchString(r.Decoder):
		return nil, fmt.Errorf("the receipt's decoder has characters no board writes")
	case !IsProfile(r.Profile):
		return nil, fmt.Errorf("the receipt's profile %.80q is not a Nix profile", r.Profile)
	}
	for _, p := range []string{r.Target, r.System, r.Previous} {
		if p != "" && !IsStorePath(p) {
			return nil, fmt.Errorf("%.100q is not a store path", p)
		}
	}
	for _, list := range [][]string{r.Added, r.Removed} {
		for _, p := range list {
			if !IsStorePath(p) {
				return nil, fmt.Errorf("%.100q is not a store path", p)
			}
		}
	}
	for _, p := range r.RebootNeeded {
		if !rebootParts[p] {
			return nil, fmt.Errorf("the receipt's reboot_needed names %.40q", p)
		}
	}
	for _, g := range r.Generations {
		if g.Number <= 0 || !IsStorePath(g.Path) {
			return nil, fmt.Errorf("generation %d (%.80q) is not a generation of a store path", g.Number, g.Path)
		}
	}
	return &r, nil
}

// cleanDetail: a detail is free text the board kept to a safe set; only
// its length is bounded by textRE's rules here.
func cleanDetail(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	return regexp.MustCompile(`[^A-Za-z0-9._+ -]`).ReplaceAllString(s, " ")
}

// Received is a receipt taken into the mirror.
type Received struct {
	Event    string   `json:"event"` // "receipt"
	Receipt  *Receipt `json:"receipt"`
	Board    Board    `json:"board"`
	Manifest bool     `json:"manifest_updated"`
	Paths    int      `json:"paths"`
}

// Text says what the board did and what the mirror now assumes.
func (r Received) Text() string {
	s := fmt.Sprintf("board %s (%s): bundle %d %s", orDash(r.Board.Hostname), r.Board.Fingerprint, r.Receipt.Sequence, r.Receipt.Outcome)
	if r.Receipt.Cause != "" {
		s += " (" + r.Receipt.Cause + ")"
	}
	if r.Receipt.System != "" {
		s += ", now on " + shortPath(r.Receipt.System)
	}
	if len(r.Receipt.RebootNeeded) > 0 {
		s += "; it needs a reboot to run the new " + strings.Join(r.Receipt.RebootNeeded, ", ")
	}
	if r.Manifest {
		s += fmt.Sprintf("; its manifest is updated (%d paths): the next bundle is made against it", r.Paths)
	}
	return s
}

// ErrUnknownBundle is returned for a receipt of a bundle the mirror has no
// record of.
var ErrUnknownBundle = errors.New("no record of this bundle")

// Receive takes a receipt into the mirror: kept in receipts/<seq>.json and,
// when the board switched or will boot the bundle's system, its manifest
// becomes the old one plus what the bundle sent (its closure is on the
// board now), less what the board's garbage collection removed, with the
// board's generations and sequence.
func (m Mirror) Receive(raw []byte) (*Received, error) {
	r, err := ParseReceipt(raw)
	if err != nil {
		return nil, err
	}
	unlock, err := m.lock(r.Board)
	if err != nil {
		return nil, err
	}
	defer unlock()
	bd, err := m.Load(r.Board)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(m.dir(r.Board), "receipts", fmt.Sprintf("%d.json", r.Sequence)), raw); err != nil {
		return nil, err
	}
	rec := &Received{Event: "receipt", Receipt: r, Board: *bd}
	if r.Outcome != "switched" && r.Outcome != "booted" {
		return rec, nil
	}
	sentRaw, err := safe.ReadFile(filepath.Join(m.dir(r.Board), "bundles", fmt.Sprintf("%d.json", r.Sequence)), MaxManifest*2)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w %d for %s (it was written by another jetup, or its record was removed): record the board's manifest again", ErrUnknownBundle, r.Sequence, r.Board)
	}
	if err != nil {
		return nil, err
	}
	var s sent
	if err := json.Unmarshal(sentRaw, &s); err != nil {
		return nil, err
	}
	if s.Target != r.Target {
		return nil, fmt.Errorf("the receipt says bundle %d targeted %s, jetup wrote it for %s", r.Sequence, r.Target, s.Target)
	}
	_, man, err := m.Manifest(r.Board)
	if err != nil {
		return nil, err
	}
	if man.Sequence >= r.Sequence && !man.Time.Before(r.Time) {
		return rec, nil // the mirror knows a newer state already
	}
	have := map[string]Path{}
	for _, p := range man.Paths {
		have[p.Path] = p
	}
	for _, p := range s.Closure {
		have[p.Path] = p
	}
	for _, p := range r.Removed {
		delete(have, p)
	}
	next := *man
	next.Paths = next.Paths[:0:0]
	for _, p := range keys(have) {
		next.Paths = append(next.Paths, have[p])
	}
	next.Current, next.Sequence, next.Time = r.System, r.Sequence, r.Time
	if r.Outcome == "switched" && next.Profile == SystemProfile {
		next.Running = r.System
	}
	if len(r.Generations) > 0 {
		next.Generations = r.Generations
	}
	if r.Decoder != "" {
		next.Decoder = r.Decoder // one the bundle shipped, from now on
	}
	next.Sort()
	out := next.Marshal()
	if _, err := ParseManifest(out); err != nil {
		return nil, fmt.Errorf("the manifest made from the receipt: %v", err)
	}
	nb, err := m.record(out, &next, Seen{From: "receipt"})
	if err != nil {
		return nil, err
	}
	rec.Board, rec.Manifest, rec.Paths = *nb, true, len(next.Paths)
	return rec, nil
}
