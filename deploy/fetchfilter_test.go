package deploy

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/remote"
)

// The board's filter of nix copy --from's lines, run by the host's awk:
// each copying line names its path, nix's count and warnings are dropped,
// and whatever else nix says arrives as fetch_err, even a line a cache
// made to look like the end of the fetch.
func TestFetchFilterTurnsNixLinesIntoJetups(t *testing.T) {
	testkit.NeedCommands(t, "awk")
	in := strings.Join([]string{
		"copying 2 paths...",
		"copying path '/nix/store/0fahdgblmbz3w3awslgwnvdnlhw8bxd-a' from 'http://10.0.0.1:8080'...",
		"warning: the group 'nixbld' specified in 'build-users-group' does not exist",
		"copying path '/nix/store/052i9s0155gxp87m38rmgbi7x50440g4-b-1.0' from 'http://10.0.0.1:8080'...",
		"error: unable to download 'http://10.0.0.1:8080/nar/x.nar.zst': HTTP error 500",
		"jetup:fetch_rc=0",
	}, "\n") + "\n"
	cmd := exec.Command("sh", "-c", "awk '"+fetchFilter+"'")
	cmd.Stdin = strings.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("awk: %v", err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		k, v, ok := remote.Answer(l)
		if !ok {
			t.Fatalf("not a jetup line: %q", l)
		}
		got = append(got, k+" "+v)
	}
	want := []string{
		"fetching /nix/store/0fahdgblmbz3w3awslgwnvdnlhw8bxd-a",
		"fetching /nix/store/052i9s0155gxp87m38rmgbi7x50440g4-b-1.0",
		"fetch_err error: unable to download 'http://10.0.0.1:8080/nar/x.nar.zst': HTTP error 500",
		"fetch_err jetup:fetch_rc=0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
