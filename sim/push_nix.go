package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jetup/jetup/deploy"
)

// The simulated bench's own Nix (the push step's Nix edge): it holds the
// simulated system and copies it to the PushBoard through the board's
// gate, at the link's rate.

// simNix is this machine's Nix holding the simulated system.
type simNix struct{ b *PushBoard }

// Resolve takes any path (./result by default in the wizard) to the
// simulated toplevel, as a built result link would.
func (n *simNix) Resolve(path string) (string, error) {
	if path == n.b.top || path == "./result" || path == "result" {
		return n.b.top, nil
	}
	if strings.HasPrefix(path, "/nix/store/") {
		return "", fmt.Errorf("%s is not in the simulated store; use ./result", path)
	}
	return "", fmt.Errorf("lstat %s: no such file or directory", path)
}

func (n *simNix) ReadFile(path string) ([]byte, error) {
	if path == n.b.top+"/system" {
		return []byte("aarch64-linux"), nil
	}
	return nil, os.ErrNotExist
}

// Build takes a few seconds to "fetch" the system from a cache.
func (n *simNix) Build(ctx context.Context, installable string, log io.Writer) (string, error) {
	if !strings.Contains(installable, "#") {
		return "", fmt.Errorf("error: cannot find flake attribute in '%s'", installable)
	}
	fmt.Fprintf(log, "@nix {\"action\":\"start\",\"id\":1,\"level\":0,\"text\":\"\",\"type\":104}\n")
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(log, "@nix {\"action\":\"start\",\"id\":%d,\"level\":3,\"text\":\"building\",\"type\":105,\"fields\":[\"/nix/store/%s-%s.drv\",\"\",1,1]}\n",
			10+i, strings.Repeat("a", 32), simNames[i])
		if err := n.b.wait(ctx, 500*time.Millisecond); err != nil {
			return "", err
		}
		fmt.Fprintf(log, "@nix {\"action\":\"result\",\"id\":1,\"type\":105,\"fields\":[%d,6,1,0]}\n", i)
		fmt.Fprintf(log, "@nix {\"action\":\"stop\",\"id\":%d}\n", 10+i)
	}
	return n.b.top, nil
}

func (n *simNix) PathInfo(_ context.Context, path string) ([]byte, error) {
	if path != n.b.top {
		return nil, fmt.Errorf("error: path '%s' is not valid", path)
	}
	type info struct {
		Path    string `json:"path"`
		NarSize int64  `json:"narSize"`
	}
	out := make([]info, len(n.b.closure))
	for i, p := range n.b.closure {
		out[i] = info{p.Path, p.NarSize}
	}
	return json.Marshal(out)
}

var gateToken = regexp.MustCompile(`%2Ftmp%2Fjetup-([0-9a-f]+)`)

// Copy waits at the board's gate as jetup's remote-program does, then
// sends the paths the board lacks, one at a time at the link's rate,
// logging as Nix 2.8 does (start and stop per path, no byte progress).
func (n *simNix) Copy(ctx context.Context, req deploy.CopyRequest, log io.Writer) error {
	b := n.b
	if strings.HasPrefix(req.To, "file://") {
		return n.copyToDir(ctx, req, log)
	}
	if m := gateToken.FindStringSubmatch(req.To); m != nil {
		g := b.gate(m[1])
		select {
		case <-g.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if g.refused {
			return fmt.Errorf("error: cannot open connection to remote store '%s': error: unexpected end-of-file", req.To)
		}
	}
	var missing []deploy.StorePath
	b.mu.Lock()
	for _, p := range b.closure {
		if !b.store[p.Path] {
			missing = append(missing, p)
		}
	}
	b.mu.Unlock()
	fmt.Fprintf(log, "@nix {\"action\":\"start\",\"id\":100,\"level\":3,\"text\":\"copying %d paths\",\"type\":103}\n", len(missing))
	for i, p := range missing {
		id := 101 + i
		fmt.Fprintf(log, "@nix {\"action\":\"start\",\"fields\":[%q,\"local\",%q],\"id\":%d,\"level\":3,\"text\":\"copying path '%s' to '%s'\",\"type\":100}\n",
			p.Path, req.To, id, p.Path, req.To)
		if err := sleep(ctx, time.Duration(float64(p.NarSize)/b.Rate*float64(time.Second))); err != nil {
			return err
		}
		b.mu.Lock()
		b.store[p.Path] = true
		b.mu.Unlock()
		fmt.Fprintf(log, "@nix {\"action\":\"stop\",\"id\":%d}\n", id)
	}
	fmt.Fprintf(log, "@nix {\"action\":\"stop\",\"id\":100}\n")
	return nil
}

// copyToDir writes a narinfo per path, so a second run finds them.
func (n *simNix) copyToDir(ctx context.Context, req deploy.CopyRequest, log io.Writer) error {
	dir, _, _ := strings.Cut(strings.TrimPrefix(req.To, "file://"), "?")
	for i, p := range n.b.closure {
		hash, _, _ := strings.Cut(filepath.Base(p.Path), "-")
		f := filepath.Join(dir, hash+".narinfo")
		if _, err := os.Stat(f); err == nil {
			continue
		}
		fmt.Fprintf(log, "@nix {\"action\":\"start\",\"fields\":[%q,\"local\",%q],\"id\":%d,\"level\":3,\"type\":100}\n", p.Path, req.To, i+1)
		if err := sleep(ctx, time.Duration(float64(p.NarSize)/(4*n.b.Rate)*float64(time.Second))); err != nil {
			return err
		}
		if err := os.WriteFile(f, []byte("StorePath: "+p.Path+"\nCompression: zstd\n"), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(log, "@nix {\"action\":\"stop\",\"id\":%d}\n", i+1)
	}
	return nil
}
