package deploy_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testboard"
)

// The offline path, with real Nix on both sides: write the stick's
// directory, then run its jetup-import.sh in a mount namespace whose /nix
// is empty, as a board with no network would.
func TestToDirWritesAZstdCacheThatImportsAndActivates(t *testing.T) {
	sys := systems(t)["small"]
	dir := filepath.Join(t.TempDir(), "stick", "jetup-cache")
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := deploy.ToDir(ctx, realEdge.Nix, deploy.ToDirOptions{Closure: sys, Dir: dir}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Paths != 14 || res.Written != 14 || !strings.Contains(res.Command, "jetup-cache/jetup-import.sh") {
		t.Errorf("result %+v", res)
	}
	infos, _ := filepath.Glob(filepath.Join(dir, "*.narinfo"))
	nars, _ := filepath.Glob(filepath.Join(dir, "nar", "*.nar.zst"))
	if len(infos) != 14 || len(nars) == 0 {
		t.Errorf("%d narinfos, %d zstd nars", len(infos), len(nars))
	}
	if p := rec.copyEvents(); len(p) == 0 || p[len(p)-1].PathsDone != 14 {
		t.Errorf("progress %+v", p)
	}

	again, err := deploy.ToDir(ctx, realEdge.Nix, deploy.ToDirOptions{Closure: sys, Dir: dir}, &recorder{})
	if err != nil || again.Written != 0 {
		t.Errorf("second write: %+v %v", again, err)
	}

	testboard.Need(t)
	board := t.TempDir()
	if err := os.MkdirAll(filepath.Join(board, "nix"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "slave", "sh", "-c",
		"mount --bind "+board+"/nix /nix && sh "+res.Script+" switch")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("jetup-import.sh: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "jetup: done") {
		t.Errorf("import output:\n%s", out.String())
	}
	log, _ := os.ReadFile(filepath.Join(board, "nix", "var", "jetup-activations.log"))
	if string(log) != "switch\n" {
		t.Errorf("activation log %q", log)
	}
	if exec.Command("nix-store", "--store", "local?root="+board, "--check-validity", sys).Run() != nil {
		t.Error("the system is not valid in the board's store after the import")
	}
}
