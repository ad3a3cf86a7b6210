package runrec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/jetup/jetup/safe"
)

// nameTime is the start time a run directory's name begins with.
func nameTime(name string) (time.Time, bool) {
	const layout = "20060102T150405Z"
	if len(name) < len(layout) {
		return time.Time{}, false
	}
	t, err := time.Parse(layout, name[:len(layout)])
	return t, err == nil
}

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// maxRecord bounds run.json: a long run with a flash verdict's evidence
// and a write receipt is tens of KiB.
const maxRecord = 16 << 20

// Load reads the run.json in dir.
func Load(dir string) (*Record, error) {
	b, err := safe.ReadFile(filepath.Join(dir, FileName), maxRecord)
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not a valid run record: %w", filepath.Join(dir, FileName), err)
	}
	return &r, nil
}

// List loads every run under stateDir/runs, oldest first. Directories that
// hold no readable run.json are skipped and reported in bad.
func List(stateDir string) (runs []Record, bad []error, err error) {
	return ListSince(stateDir, time.Time{})
}

// ListSince is List for the runs started at or after since. A run
// directory's name begins with its start time (UTC), so older runs are
// passed over without reading their records: a bench of years stays quick
// to look back on.
func ListSince(stateDir string, since time.Time) (runs []Record, bad []error, err error) {
	base := filepath.Join(stateDir, "runs")
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if !since.IsZero() {
			// A minute of slack: the name's time is cut to the second.
			if t, ok := nameTime(e.Name()); ok && t.Before(since.Add(-time.Minute)) {
				continue
			}
		}
		r, lerr := Load(filepath.Join(base, e.Name()))
		if lerr != nil {
			bad = append(bad, lerr)
			continue
		}
		if !since.IsZero() && r.Started.Before(since) {
			continue
		}
		runs = append(runs, *r)
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Started.Before(runs[j].Started) })
	return runs, bad, nil
}
