package sim

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/remote"
)

// The simulated board's updaters: it answers jetup update's board shell
// as a board with systemd-sysupdate and SWUpdate would, keeps what it
// received (a second update sends nothing), and prints the updaters' real
// output: systemd-sysupdate's as blitz/sysupdate-playground's README shows
// it, SWUpdate's notifier lines as its core/notifier.c formats them.
type simUpdates struct {
	mu      sync.Mutex
	files   map[string]string // name -> sha256, in the sysupdate source dir
	version string
}

var updVersion = regexp.MustCompile(`_([0-9]+(?:\.[0-9]+)*)`)

func (b *PushBoard) updates() *simUpdates {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.upd == nil {
		b.upd = &simUpdates{files: map[string]string{}, version: "1.2.3"}
	}
	return b.upd
}

func (b *PushBoard) updateShell(ctx context.Context, script string) remote.Conn {
	outR, outW := io.Pipe()
	inR, inW := io.Pipe()
	c := &simConn{b: b, user: "root", out: outR, in: inW, done: make(chan struct{})}
	kind := "sysupdate"
	if strings.Contains(script, "\nKIND='swu'\n") {
		kind = "swu"
	}
	go func() {
		defer close(c.done)
		c.err = b.runUpdateShell(ctx, kind, bufio.NewReader(inR), outW)
		outW.CloseWithError(io.EOF)
	}()
	return c
}

func (b *PushBoard) runUpdateShell(ctx context.Context, kind string, in *bufio.Reader, w io.Writer) error {
	u := b.updates()
	say := func(k, v string) { fmt.Fprintf(w, "jetup:%s=%s\n", k, v) }
	say("arch", b.Arch)
	say("hwrevision", "jetup-sim 1.0")
	u.mu.Lock()
	say("version", u.version)
	u.mu.Unlock()
	say("tool", "systemd-sysupdate /run/current-system/sw/bin/systemd-sysupdate")
	say("tool", "swupdate /run/current-system/sw/bin/swupdate")
	say("source", "Type=regular-file Path=/var/lib/updates ")
	dir := "/var/lib/updates"
	if kind == "swu" {
		dir = "/var/tmp/jetup-swu.sim"
	}
	say("dir", dir)
	if kind != "swu" {
		u.mu.Lock()
		var names []string
		for n := range u.files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			say("have", u.files[n]+" "+n)
		}
		u.mu.Unlock()
	}
	say("free", strconv.FormatInt(b.FreeBytes, 10))
	say("ready", "1")
	received := map[string]bool{}
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return nil
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "recv":
			if len(f) < 4 {
				continue
			}
			size, _ := strconv.ParseInt(f[2], 10, 64)
			h := sha256.New()
			if _, err := io.CopyN(h, in, size); err != nil {
				return remote.ErrConnectionLost
			}
			if err := b.wait(ctx, time.Duration(float64(size)/b.Rate*float64(time.Second))); err != nil {
				return err
			}
			got := hex.EncodeToString(h.Sum(nil))
			if got != f[3] {
				say("bad", f[1]+" "+got)
				continue
			}
			received[f[1]] = true
			if kind != "swu" {
				u.mu.Lock()
				u.files[f[1]] = got
				u.mu.Unlock()
			}
			say("got", f[1])
		case "apply":
			if kind == "swu" {
				for _, l := range []string{"SWUpdate v2024.12.1", "", "Licensed under GPLv2. See source distribution for detailed copyright notices.", "",
					"[INFO ] : SWUPDATE started :  Software Update started !",
					"[INFO ] : SWUPDATE running :  Installation in progress",
					"[INFO ] : SWUPDATE successful ! SWUPDATE successful !"} {
					fmt.Fprintln(w, l)
					_ = b.wait(ctx, 300*time.Millisecond)
				}
				say("exit", "0")
				continue
			}
			u.mu.Lock()
			next := u.version
			var names []string
			for n := range u.files {
				if m := updVersion.FindStringSubmatch(n); m != nil && m[1] > next {
					next = m[1]
				}
				names = append(names, n)
			}
			sort.Strings(names)
			u.mu.Unlock()
			if next == u.version {
				fmt.Fprintln(w, "No update needed.")
				say("exit", "0")
				continue
			}
			fmt.Fprintf(w, "Selected update '%s' for install.\nMaking room for 1 updates…\nRemoved no instances.\n", next)
			for _, n := range names {
				if !strings.Contains(n, "_"+next+".") {
					continue
				}
				fmt.Fprintf(w, "⤵️ Acquiring /var/lib/updates/%s → /proc/self/fd/3p2...\n", n)
				_ = b.wait(ctx, 400*time.Millisecond)
				fmt.Fprintf(w, "Successfully acquired '/var/lib/updates/%s'.\n", n)
			}
			fmt.Fprintf(w, "✨ Successfully installed update '%s'.\n", next)
			u.mu.Lock()
			u.version = next
			u.mu.Unlock()
			say("exit", "0")
		case "reboot":
			say("rebooting", "1")
			return nil
		case "quit":
			return nil
		}
	}
}
