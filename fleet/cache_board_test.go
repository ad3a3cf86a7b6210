package fleet

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/step"
)

// routeToHost gives the board a default route through this machine, so
// it reaches this machine's addresses on the other boards' links too (one
// cache URL for all).
func routeToHost(t *testing.T, b *testboard.Board) {
	t.Helper()
	if out, err := exec.Command("ip", "-n", b.Name, "route", "add", "default", "via", b.HostAddr).CombinedOutput(); err != nil {
		t.Fatalf("ip route: %v: %s", err, out)
	}
}

// serveDir is a real HTTP server in this machine's namespace serving dir
// (a file:// binary cache), on every address; it returns its port.
func serveDir(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// nixKey makes a signing key with the real nix and returns its file and
// the public key nix derives from it.
func nixKey(t testing.TB, dir, name string) (secretFile, public string) {
	t.Helper()
	sk, err := exec.Command("nix", "--extra-experimental-features", "nix-command", "key", "generate-secret", "--key-name", name).Output()
	if err != nil {
		t.Fatalf("nix key generate-secret: %v", err)
	}
	secretFile = filepath.Join(dir, name+".sk")
	if err := os.WriteFile(secretFile, sk, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nix", "--extra-experimental-features", "nix-command", "key", "convert-secret-to-public")
	cmd.Stdin = strings.NewReader(string(sk))
	pub, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix key convert-secret-to-public: %v", err)
	}
	return secretFile, strings.TrimSpace(string(pub))
}

// Two boards fetch their system from a real HTTP binary cache this
// machine filled once (nix copy --to file://DIR?secret-key=..., served by
// a web server): nothing of the closure goes over ssh. Then the bad
// caches, each named per node with its cause and nothing activated: one
// that is down, one that lacks the paths, one signed by another key.
func TestBoardFleetThroughAnHTTPBinaryCache(t *testing.T) {
	testboard.Need(t)
	nixEnv(t)
	a, b := newBoard(t, nil, nil), newBoard(t, nil, nil)
	routeToHost(t, a)
	routeToHost(t, b)
	dir := t.TempDir()
	flakeSystems(t, dir, map[string]testboard.System{
		"good": {Name: "fleet-cache-good", Small: 5, BigMiB: []int{1}},
		"next": {Name: "fleet-cache-next", Small: 3, BigMiB: []int{1}},
	})
	keys := t.TempDir()
	sk, pub := nixKey(t, keys, "jetup-test-cache-1")
	_, otherPub := nixKey(t, keys, "jetup-test-cache-2")
	if got, err := publicOfSecretKey(sk); err != nil || got != pub {
		t.Fatalf("the public key of the cache's secret key: %q, %v; nix says %q", got, err, pub)
	}
	cacheDir, emptyDir := t.TempDir(), t.TempDir()
	served := "http://" + a.HostAddr + ":" + serveDir(t, cacheDir)
	emptyServed := "http://" + a.HostAddr + ":" + serveDir(t, emptyDir)
	os.WriteFile(filepath.Join(emptyDir, "nix-cache-info"), []byte("StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n"), 0o644)
	state := t.TempDir()
	inventory := func(system string) *Inventory {
		return loadInv(t, filepath.Join(dir, "fleet.yaml"), "nodes:\n"+nodeLine("a", a, system, "")+nodeLine("b", b, system, "")+"phases:\n  - [a, b]\n")
	}
	upload := "file://" + cacheDir + "?secret-key=" + sk

	o := fleetOptions(t, state, inventory(".#good"))
	o.Cache, o.CacheTo = served, upload
	copies := &copyRecorder{NixCLI: realEdge.Push.Nix.(deploy.NixCLI)}
	edge := realEdge
	edge.Push.Nix = copies
	res, ev := pushOn(t, edge, o)
	nodes := byName(res)
	if res.ExitCode != 0 || nodes["a"].State != Done || nodes["b"].State != Done {
		t.Fatalf("through the cache: exit %d %+v\n%s", res.ExitCode, res.Nodes, ev.text())
	}
	// One nix copy, to the cache, in the background (the nodes' ssh
	// sessions first): no node had a copy over ssh waiting at its gate
	// (on a slow board, that session and the gate's polling took CPU its
	// preflight needed).
	if len(copies.reqs) != 1 || copies.reqs[0].To != uploadURL(upload) || !copies.reqs[0].Background {
		t.Errorf("nix copy ran as %+v; want one, to the cache (%s), in the background", copies.reqs, uploadURL(upload))
	}
	for _, name := range []string{"a", "b"} {
		if n := nodes[name]; n.SentBytes != 0 || !strings.Contains(n.Detail, "fetched by the board from the binary cache") {
			t.Errorf("%s: the closure went over ssh, or was not fetched: %+v", name, n)
		}
	}
	if !a.Valid("", nodes["a"].System) || !b.Valid("", nodes["b"].System) || res.CacheBytes < 1<<20 {
		t.Errorf("the system is not on the boards, or the cache got nothing: cache bytes %d", res.CacheBytes)
	}
	if m, _ := filepath.Glob(filepath.Join(cacheDir, "*.narinfo")); len(m) < 7 {
		t.Errorf("the cache holds %d narinfos", len(m))
	}
	if m, _ := filepath.Glob(filepath.Join(cacheDir, "nar", "*.nar.zst")); len(m) < 7 {
		t.Errorf("the cache holds %d zstd NARs: the upload URL named no compression, zstd is jetup's", len(m))
	}
	// Each node's row counted the bytes the board fetched (the BYTES
	// column), from the paths nix on the board said it started.
	fetched := map[string]NodeStatus{}
	for _, e := range ev.all {
		if s, ok := e.(NodeStatus); ok && s.Step == "copy" && s.BytesTotal > 0 {
			fetched[s.Node] = s
		}
	}
	for _, name := range []string{"a", "b"} {
		if s := fetched[name]; s.BytesTotal < 1<<20 || s.BytesDone != s.BytesTotal || !strings.Contains(s.Detail, "copy 100%") {
			t.Errorf("%s: the fetch's progress: %+v", name, s)
		}
	}
	var up []CacheProgress
	for _, e := range ev.all {
		if p, ok := e.(CacheProgress); ok {
			up = append(up, p)
		}
	}
	if len(up) == 0 || up[len(up)-1].Progress.PathsDone != up[len(up)-1].Progress.PathsTotal || up[len(up)-1].Progress.BytesTotal < 1<<20 {
		t.Errorf("the copy to the cache said no progress, or not its end: %+v", up)
	}

	// The copy to the cache runs while the nodes connect; no node fetches
	// before it ended.
	uploaded := -1
	for i, e := range ev.all {
		if _, ok := e.(CacheUpload); ok && uploaded < 0 {
			uploaded = i
		}
		if l, ok := e.(NodeLine); ok {
			if ph, ok := l.Event.(deploy.PhaseEvent); ok && strings.Contains(ph.What, "fetches") && (uploaded < 0 || i < uploaded) {
				t.Errorf("%s fetched before the cache had the system (event %d, upload at %d)", l.Node, i, uploaded)
			}
		}
	}

	// A copy to the cache that fails fails every node, with nothing
	// fetched or activated.
	o = fleetOptions(t, state, inventory(".#next"))
	o.Cache, o.CacheTo, o.CacheKeys = served, "file:///proc/jetup-no-cache", []string{pub}
	res, ev = push(t, o)
	for _, name := range []string{"a", "b"} {
		if n := byName(res)[name]; n.State != Failed || n.Cause != "cache-upload" || !strings.Contains(n.Detail, "/proc/jetup-no-cache") {
			t.Errorf("upload failed: node %s: %+v\n%s", name, n, ev.text())
		}
	}
	if res.ExitCode != 1 || strings.Count(a.Read("var/jetup-activations.log"), "switch") != 1 {
		t.Errorf("upload failed: exit %d, a activated %q", res.ExitCode, a.Read("var/jetup-activations.log"))
	}

	bad := []struct {
		name, cache, cause string
		keys               []string
	}{
		{"down", "http://" + a.HostAddr + ":1", "cache-unreachable", nil},
		{"lacking", emptyServed, "cache-missing-path", nil},
		{"wrong key", served, "cache-untrusted", []string{otherPub}},
	}
	for _, c := range bad {
		o := fleetOptions(t, state, inventory(".#next"))
		o.Cache, o.CacheTo = c.cache, upload
		if c.keys != nil {
			o.CacheTo, o.CacheKeys = "file://"+cacheDir, c.keys // no secret key: the cache is signed by the first key only
		}
		res, ev := push(t, o)
		nodes := byName(res)
		for _, name := range []string{"a", "b"} {
			if n := nodes[name]; n.State != Failed || n.Cause != c.cause || !strings.Contains(n.Detail, shownURL(c.cache)) {
				t.Errorf("%s: node %s: %+v\n%s", c.name, name, n, ev.text())
			}
		}
		if res.ExitCode != 1 || strings.Count(a.Read("var/jetup-activations.log"), "switch") != 1 {
			t.Errorf("%s: exit %d, a activated %q", c.name, res.ExitCode, a.Read("var/jetup-activations.log"))
		}
	}

	// The cache that lacked the system gets it: the boards, which found it
	// missing there a moment ago, fetch it now (Nix's negative narinfo
	// cache would have them call it missing for an hour).
	o = fleetOptions(t, state, inventory(".#next"))
	o.Cache, o.CacheTo = emptyServed, "file://"+emptyDir+"?secret-key="+sk
	res, ev = push(t, o)
	if nodes := byName(res); res.ExitCode != 0 || nodes["a"].State != Done || nodes["b"].State != Done {
		t.Errorf("the cache that lacked the system has it now: exit %d %+v\n%s", res.ExitCode, res.Nodes, ev.text())
	}
}

// A board without awk (which its fetch reads nix's lines through) is
// told so, before nix runs, and nothing is fetched or activated.
func TestBoardWithoutAwkCannotFetch(t *testing.T) {
	testboard.Need(t)
	nixEnv(t)
	awk, err := filepath.EvalSymlinks("/usr/bin/awk")
	if err != nil {
		t.Fatalf("this machine's awk: %v", err)
	}
	b := testboard.New(t, testboard.Options{System: initialSystem, Tools: map[string]string{"systemctl": fakeSystemctl}, Hide: []string{awk}})
	if err := os.MkdirAll(filepath.Join(b.Dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	routeToHost(t, b)
	dir := t.TempDir()
	flakeSystems(t, dir, map[string]testboard.System{"good": {Name: "fleet-noawk", Small: 2}})
	sk, _ := nixKey(t, t.TempDir(), "jetup-test-cache-1")
	cacheDir := t.TempDir()
	o := fleetOptions(t, t.TempDir(), loadInv(t, filepath.Join(dir, "fleet.yaml"), "nodes:\n"+nodeLine("b", b, ".#good", "")+"phases:\n  - [b]\n"))
	o.Cache, o.CacheTo = "http://"+b.HostAddr+":"+serveDir(t, cacheDir), "file://"+cacheDir+"?secret-key="+sk
	res, ev := push(t, o)
	n := byName(res)["b"]
	if res.ExitCode != 1 || n.State != Failed || n.Cause != string(deploy.CauseCacheFailed) || !strings.Contains(n.Detail, "no awk") {
		t.Errorf("exit %d, node %+v\n%s", res.ExitCode, n, ev.text())
	}
	if b.Valid("", n.System) || strings.Contains(b.Read("var/jetup-activations.log"), "switch") {
		t.Errorf("the board got its system or activated without awk: %q", b.Read("var/jetup-activations.log"))
	}
}

// A cache the nodes could not trust, or a URL that is not one, is refused
// before anything is built or sent (exit 2).
func TestCacheOptionsAreRefusedBeforeAnything(t *testing.T) {
	file := write(t, "fleet.yaml", "nodes:\n  c: {host: 10.0.0.10, system: "+ctrlSystem+"}\nphases:\n  - [c]\n")
	inv, err := Load(context.Background(), file, LoadOptions{Profiles: testProfiles(t), Resolve: resolveIn(ctrlSystem)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.sk")
	os.WriteFile(badKey, []byte("name:bm90IGEga2V5"), 0o600)
	for _, c := range []struct {
		cache, to string
		keys      []string
		want      string
	}{
		{"http://cache:5000", "", nil, "no public key for the binary cache"},
		{"http://cache:5000", "", []string{"cache-1:bm90IGEga2V5"}, "is not a Nix public key"},
		{"http://cache:5000", "file:///srv/c?secret-key=" + badKey, nil, "is not a Nix secret key"},
		{"", "file:///srv/c", nil, "--cache-to without --cache"},
		{"ftp://cache/x", "", nil, `unknown scheme "ftp"`},
		{"http://cache 5000", "", nil, "holds a space"},
	} {
		o := fleetOptions(t, t.TempDir(), inv)
		o.Cache, o.CacheTo, o.CacheKeys = c.cache, c.to, c.keys
		_, err := Push(context.Background(), Edge{}, o, &events{})
		var se *step.Error
		if !errors.As(err, &se) || se.ExitCode() != step.ExitRefused || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want a refusal saying %q", c, err, c.want)
		}
	}
}

// copyRecorder is the real Nix, noting each nix copy.
type copyRecorder struct {
	deploy.NixCLI
	mu   sync.Mutex
	reqs []deploy.CopyRequest
}

func (c *copyRecorder) Copy(ctx context.Context, req deploy.CopyRequest, log io.Writer) error {
	c.mu.Lock()
	c.reqs = append(c.reqs, req)
	c.mu.Unlock()
	return c.NixCLI.Copy(ctx, req, log)
}
