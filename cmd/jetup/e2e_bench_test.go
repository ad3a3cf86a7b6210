package main

import (
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
)

// A bench of two Orin Nanos in a real terminal against the simulated
// bench: the first board answered in full, the second asked only for its
// label (everything else as for the first: the board in recovery mode
// taken, the flash, the same installer stick, k on the console, the push
// of the same system, the checks), at the same address with a host key of
// its own. The first board, left unlabelled, is labelled by the serial
// number its console printed. Then `jetup runs --bench --csv` lists both. With overlap (the
// default) the second board's push and checks go on in flight while the
// wizard asks for the third board's label, and esc there ends the bench
// once it has landed; with --no-overlap the second board ends at its
// summary.
func TestBenchOfTwoBoardsInTmux(t *testing.T) {
	t.Run("overlap", func(t *testing.T) { benchOfTwo(t, true) })
	t.Run("no-overlap", func(t *testing.T) { benchOfTwo(t, false) })
}

func benchOfTwo(t *testing.T, overlap bool) {
	home := sshHomeFor(t)
	state := t.TempDir()
	args := []string{"--sim", "--sim-speed", "20", "--state-dir", state, "--profile", "orin-nano-super-devkit"}
	if !overlap {
		args = append(args, "--no-overlap")
	}
	tm := newTmux(t, 100, 30, []string{"TERM=xterm-256color", "HOME=" + home, "SSH_AUTH_SOCK="}, args...)
	firstBoard(tm)

	// The second board: one question.
	tm.waitFor("▸ Label", "Board 2 of today's bench", "Same choices as board 1")
	tm.keys("-l", "ORIN-0002")
	tm.keys("Enter")
	if overlap {
		// In flight: its row above the third board's label question.
		tm.waitFor("board 2 ORIN-0002 in flight", "▸ Label", "Board 3 of today's bench")
		tm.keys("Escape")
	} else {
		text := tm.waitFor("▸ Summary", "Summary of board 2", "all 8 checks passed", "n next board")
		if !strings.Contains(text, "installer stick written for board 1") {
			t.Errorf("second board's summary does not say the stick was used again:\n%s", text)
		}
		tm.keys("Enter")
	}
	tm.waitFor("JETUP-EXIT=0")

	runs, _, err := runrec.List(state)
	if err != nil || len(runs) != 2 {
		t.Fatalf("want two run records, got %d (%v)", len(runs), err)
	}
	var got []string
	for _, s := range runs[1].Steps {
		got = append(got, string(s.Step)+":"+string(s.Outcome))
	}
	want := "doctor:skipped detect:success flash:success write:skipped console:success push:success verify:success"
	if strings.Join(got, " ") != want {
		t.Errorf("second board's steps %s\nwant %s", strings.Join(got, " "), want)
	}
	// Each board pinned its own key at the same address.
	if k1, k2 := runs[0].Facts["host_key"], runs[1].Facts["host_key"]; k1 == "" || k1 == k2 {
		t.Errorf("host keys: board 1 %q, board 2 %q", k1, k2)
	}

	r := runJetup(t, nil, "", "--state-dir", state, "runs", "--bench", "--csv")
	if r.code != 0 {
		t.Fatalf("runs --bench --csv: %+v", r)
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("want a header, two boards and a total, got %d rows (%v):\n%s", len(rows), err, r.stdout)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for i, want := range []struct{ board, label, run string }{{"1", sim.SimSerialNumber(1), runs[0].ID}, {"2", "ORIN-0002", runs[1].ID}} {
		row := rows[i+1]
		if row[col["board"]] != want.board || row[col["label"]] != want.label || row[col["run"]] != want.run ||
			row[col["result"]] != "done" || row[col["verify"]] != "success" || row[col["profile"]] != "orin-nano-super-devkit" {
			t.Errorf("row %d: %v", i+1, row)
		}
	}
	if total := rows[3]; total[col["label"]] != "total" || total[col["result"]] != "2 done, 0 failed" {
		t.Errorf("total row %v", total)
	}
}

// firstBoard answers the first board of a bench in full, from the host
// check to its summary, and presses n.
func firstBoard(tm *tmuxTerm) {
	tm.t.Helper()
	tm.waitFor("▸ Check host", "12 checks:")
	tm.keys("Enter")
	tm.recoverThroughVerify()
	tm.waitFor("▸ Summary", "all 8 checks passed", "n next board")
	tm.keys("n")
}

// sshHomeFor makes a home with an SSH key for the Watch step's k.
func sshHomeFor(t testing.TB) string {
	t.Helper()
	testkit.NeedCommands(t, "ssh-keygen")
	home := t.TempDir()
	key := filepath.Join(home, ".ssh", "id_ed25519")
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	return home
}
