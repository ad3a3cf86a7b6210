package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/runrec"
)

// lines is a process's stdout, line by line, with waits on it.
type lines struct {
	testkit.Changes
	mu sync.Mutex
	l  []string
}

func (l *lines) read(r *bufio.Reader) {
	for {
		s, err := r.ReadString('\n')
		if s != "" {
			l.mu.Lock()
			l.l = append(l.l, strings.TrimRight(s, "\n"))
			l.mu.Unlock()
			l.Changed()
		}
		if err != nil {
			return
		}
	}
}

func (l *lines) any(ok func(string) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.l {
		if ok(s) {
			return true
		}
	}
	return false
}

// stationLine reports whether s is a station progress line for which ok
// holds.
func stationLine(s string, ok func(media.StationProgress) bool) bool {
	var p media.StationProgress
	if !strings.Contains(s, `"slots"`) || json.Unmarshal([]byte(s), &p) != nil {
		return false
	}
	return ok(p)
}

// `jetup write --station --yes --json` on a fake bench of loop devices: a
// card plugged in is written, verified and shown as "pull me"; a USB disk
// that is not removable is left alone; SIGINT ends the station cleanly
// (exit 0, no process left), with the card's receipt and its serial in
// the end line and in run.json.
func TestWriteStation(t *testing.T) {
	testkit.NeedRoot(t)
	testkit.NeedCommands(t, "zstd", "losetup")
	dir := t.TempDir()
	img := filepath.Join(dir, "installer.img")
	data := make([]byte, 6<<20)
	rand.New(rand.NewSource(9)).Read(data[:3<<20])
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zstd", "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	bench := testkit.NewFakeDisks(t)
	state := t.TempDir()
	mark := testkit.Mark(t)
	cmd := exec.Command(binary, "--state-dir", state, "--json", "write", "--image", img+".zst", "--station", "--yes", "--disks-root", bench.Root)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), mark)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var ls lines
	read := make(chan struct{})
	go func() { ls.read(bufio.NewReader(out)); close(read) }()
	const bound = 2 * time.Minute
	ls.Wait(t, bound, "the station to wait for cards", func() bool {
		return ls.any(func(s string) bool { return strings.Contains(s, "waiting for USB sticks and SD cards") })
	})

	card, backCard := loopOver(t, 16<<20, 0x5a)
	bench.Plug("sdb", 1, card, true, "CARD0001")
	ls.Wait(t, bound, "the card to be written and shown as pull me", func() bool {
		return ls.any(func(s string) bool {
			return stationLine(s, func(p media.StationProgress) bool {
				return len(p.Slots) == 1 && p.Slots[0].Phase == media.SlotPullMe && p.Written == 1
			})
		})
	})
	hdd, backHDD := loopOver(t, 16<<20, 0x5a)
	bench.Plug("sdc", 2, hdd, false, "HDD0002")
	ls.Wait(t, bound, "the USB hard disk to be left alone", func() bool {
		return ls.any(func(s string) bool {
			return stationLine(s, func(p media.StationProgress) bool { return len(p.LeftAlone) == 1 && p.LeftAlone[0].Target == "sdc" })
		})
	})

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-read
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("station stopped with %v\n%s", err, stderr.String())
	}
	if left := testkit.WaitGone(testkit.Marked(mark), time.Minute); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
	var end media.StationResult
	ls.mu.Lock()
	lastLine := ls.l[len(ls.l)-1]
	ls.mu.Unlock()
	if err := json.Unmarshal([]byte(lastLine), &end); err != nil || end.Written != 1 || end.Failed != 0 || len(end.Cards) != 1 ||
		end.Cards[0].Device.Serial != "CARD0001" || end.Cards[0].Result != "verified" || end.Cards[0].PowerOff == "" {
		t.Fatalf("end line %v: %s", err, lastLine)
	}
	if got, _ := os.ReadFile(backCard); !bytes.Equal(got[:len(data)], data) {
		t.Error("the card does not hold the image")
	}
	if got, _ := os.ReadFile(backHDD); !bytes.Equal(got, bytes.Repeat([]byte{0x5a}, 16<<20)) {
		t.Error("the USB hard disk was written")
	}
	runs, _, _ := runrec.List(state)
	var rec media.StationResult
	if len(runs) != 1 || json.Unmarshal(runs[0].Steps[0].Details, &rec) != nil || len(rec.Cards) != 1 || rec.Cards[0].Device.Serial != "CARD0001" {
		t.Errorf("run.json: %+v", runs)
	}
}
