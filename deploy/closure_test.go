package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
)

func TestParsePathInfoBothShapes(t *testing.T) {
	// Nix 2.8 (recorded): an array with "path".
	arr := `[{"path":"/nix/store/aaa-top","narHash":"sha256-x","narSize":1424,"references":["/nix/store/bbb-dep"],"deriver":"/nix/store/x.drv","registrationTime":1795241206,"ultimate":true},
	{"path":"/nix/store/bbb-dep","narHash":"sha256-y","narSize":120,"references":[],"closureSize":120}]`
	// Nix >= 2.19: an object keyed by path.
	obj := `{"/nix/store/aaa-top":{"narHash":"sha256-x","narSize":1424,"references":["/nix/store/bbb-dep"]},
	"/nix/store/bbb-dep":{"narSize":120,"references":[],"version":2}}`
	for name, in := range map[string]string{"array": arr, "object": obj} {
		c, err := ParsePathInfo("/nix/store/aaa-top", []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(c.Paths) != 2 || c.Bytes != 1544 || c.Size("/nix/store/bbb-dep") != 120 || !c.Has("/nix/store/aaa-top") {
			t.Errorf("%s: %+v", name, c)
		}
		if l := c.List(); l[0] != "/nix/store/aaa-top" || l[1] != "/nix/store/bbb-dep" {
			t.Errorf("%s: list %v", name, l)
		}
	}
}

func TestParsePathInfoRefusesInvalidPaths(t *testing.T) {
	for _, in := range []string{
		`[{"path":"/nix/store/aaa-top","valid":false}]`,
		`{"/nix/store/aaa-top":null}`,
		`[{"path":"/nix/store/other","narSize":1}]`,
		``,
		`error: path is not valid`,
	} {
		if _, err := ParsePathInfo("/nix/store/aaa-top", []byte(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
	_, err := ParsePathInfo("/nix/store/aaa-top", []byte(`{"/nix/store/aaa-top":null}`))
	if !strings.Contains(err.Error(), "not valid") {
		t.Errorf("message %q", err)
	}
}

func TestFlakeInstallable(t *testing.T) {
	cases := map[string]string{
		".#lab3":                       ".#nixosConfigurations.lab3.config.system.build.toplevel",
		"github:me/boards#orin":        "github:me/boards#nixosConfigurations.orin.config.system.build.toplevel",
		".#packages.aarch64-linux.sys": ".#packages.aarch64-linux.sys",
	}
	for in, want := range cases {
		if got, err := FlakeInstallable(in); err != nil || got != want {
			t.Errorf("%s: %s %v", in, got, err)
		}
	}
	for _, bad := range []string{"lab3", "#lab3", ".#"} {
		if _, err := FlakeInstallable(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestStoreQueryEscapesForNix(t *testing.T) {
	q := storeQuery("abc")
	if strings.Contains(q, "+") || !strings.HasPrefix(q, "remote-program=sh%20-c%20%27set%20-f%3B") ||
		!strings.Contains(q, "%2Ftmp%2Fjetup-abc%3B") || !strings.HasSuffix(q, "jetup-gate%20nix-daemon") {
		t.Errorf("query %q", q)
	}
}

// The gate, run by a real sh: it waits for the go file, then runs the
// daemon with the sudo and store the board shell wrote there.
func TestGateProgramWaitsThenRunsTheDaemon(t *testing.T) {
	testkit.NeedCommands(t, "sh", "sleep")
	tok := fmt.Sprintf("test%d", time.Now().UnixNano())
	dir := "/tmp/jetup-" + tok
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("sh", "-c", strings.Replace(gateProgram(tok), "jetup-gate nix-daemon", "jetup-gate echo", 1)+" --stdio")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	select {
	case <-ended:
		t.Fatalf("did not wait at the gate: %q", out.String())
	case <-time.After(300 * time.Millisecond):
	}
	if err := os.WriteFile(dir+"/go", []byte("SUDO=\"\"\nSTORE=\"local?root=/mnt\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "--stdio --store local?root=/mnt\n" {
		t.Errorf("daemon called with %q", got)
	}

	// Its board shell ends (the directory goes): it gives up.
	os.RemoveAll(dir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("sh", "-c", strings.Replace(gateProgram(tok), "jetup-gate nix-daemon", "jetup-gate echo", 1)+" --stdio")
	if err := gone.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	os.RemoveAll(dir)
	start := time.Now()
	if err := gone.Wait(); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("without its board shell the gate must give up: %v after %v", err, time.Since(start))
	}
}
