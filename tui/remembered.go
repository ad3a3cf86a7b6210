package tui

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/jetup/jetup/safe"
)

// remembered is what the wizard keeps between runs (<state-dir>/tui.json).
type remembered struct {
	LastProfile string `json:"last_profile"`
}

func stateFile(dir string) string { return filepath.Join(dir, "tui.json") }

func loadRemembered(dir string) remembered {
	var r remembered
	// A few bytes; a FIFO or a huge file put there is no preselection.
	if b, err := safe.ReadFile(stateFile(dir), 64<<10); err == nil {
		_ = json.Unmarshal(b, &r) // a damaged file only loses the preselection
	}
	return r
}

func saveRemembered(dir string, r remembered) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := stateFile(dir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, stateFile(dir))
}
