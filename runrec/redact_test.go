package runrec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedactCommandKeepsNoSecret(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"jetup console --send hunter2\\r --until login", "jetup console --send <redacted> --until login"},
		{"jetup console --send=hunter2 --send-at shell", "jetup console --send=<redacted> --send-at shell"},
		{"jetup push --flake git+https://oauth2:glpat-SECRET@gitlab.example/x/y#board --host b", "jetup push --flake git+https://oauth2:REDACTED@gitlab.example/x/y#board --host b"},
		{"jetup write --image=https://example.com/i.img.zst?access_token=SECRET&x=1", "jetup write --image=https://example.com/i.img.zst?access_token=REDACTED&x=1"},
		{"jetup push --accept-host-key SHA256:abc --host 192.168.55.1 --flake github:me/cfg#b", "jetup push --accept-host-key SHA256:abc --host 192.168.55.1 --flake github:me/cfg#b"},
		{"jetup console --send", "jetup console --send"},
	} {
		got := strings.Join(RedactCommand(strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.in, got, c.want)
		}
		if strings.Contains(got, "SECRET") || strings.Contains(got, "hunter2") {
			t.Errorf("secret kept: %s", got)
		}
	}
}

// A run's files are this user's only, and run.json keeps no --send text.
func TestRunFilesArePrivate(t *testing.T) {
	state := t.TempDir()
	// A runs directory an older jetup made 0755 is closed too.
	if err := os.Mkdir(filepath.Join(state, "runs"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := Create(state, Options{Kind: "console", Command: []string{"jetup", "console", "--send", "pw\\r"}})
	if err != nil {
		t.Fatal(err)
	}
	st := r.Begin("console")
	f, err := st.CreateLog("log")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	_ = r.Close(Success)
	for p, want := range map[string]os.FileMode{
		filepath.Join(state, "runs"): 0o700, r.Dir(): 0o700, f.Name(): 0o600, filepath.Join(r.Dir(), FileName): 0o600,
	} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %04o", p, fi.Mode(), err, want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(r.Dir(), FileName))
	if strings.Contains(string(b), "pw") {
		t.Errorf("run.json: %s", b)
	}
	if _, err := Create(state, Options{Kind: "push", Profile: "../../outside"}); err == nil {
		t.Error("a profile name with a path made a run directory")
	}
}
