package fleet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// The k3s parts of a fleet run, all over the nodes' pinned SSH (the only
// port a fleet needs open from this machine): a server's readiness gates
// the next phase, an agent gets its join token right before activation,
// and the cluster is checked after the last phase. Each runs a small
// shell on a node that answers "jetup:key=value" lines and waits on stdin
// between two looks, so this side sets the pace (PollEvery) and the limit
// (Wait) and no session is left behind. See doc.go for the steps.

// k3sServerDir is where a k3s server keeps its join tokens.
const k3sServerDir = "/var/lib/rancher/k3s/server"

// k3sURL is the server's supervisor port as seen on the server itself:
// /ping and /cacerts need no credentials.
const k3sURL = "https://127.0.0.1:6443"

// shellPrelude finds the node's tools and whether it needs sudo.
const shellPrelude = `exec 2>&1
PATH="$PATH:/run/wrappers/bin:/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin:/usr/local/bin:/usr/bin:/bin"; export PATH
SUDO=; if [ "$(id -u)" != 0 ]; then sudo -n true 2>/dev/null && SUDO="sudo -n"; fi
`

// gateScript answers, each time it reads a line, whether the server's k3s
// answers /ping and then /readyz.
const gateScript = shellPrelude + `command -v k3s >/dev/null 2>&1 || { echo "jetup:k3s=absent"; exit 0; }
command -v curl >/dev/null 2>&1 || { echo "jetup:curl=absent"; exit 0; }
while :; do
  if p=$(curl -ksS --max-time 5 ` + k3sURL + `/ping 2>&1) && [ "$p" = pong ]; then
    if r=$($SUDO k3s kubectl get --raw /readyz 2>&1); then echo "jetup:ready=$(printf '%s' "$r" | tail -n 1)"; exit 0; fi
    echo "jetup:readyz=$(printf '%s' "$r" | tail -n 1)"
  else
    echo "jetup:ping=$(printf '%s' "$p" | tail -n 1)"
  fi
  read -r again || exit 0
done
`

// tokenScript prints the server's join token (the agent token where the
// server has one) and its /cacerts, base64. Its output is never logged.
const tokenScript = shellPrelude + `d=` + k3sServerDir + `
f=
for c in agent-token node-token; do if $SUDO test -s "$d/$c"; then f=$c; break; fi; done
[ -n "$f" ] || { echo "jetup:token_file=none"; exit 0; }
echo "jetup:token_file=$f"
printf 'jetup:token='; $SUDO head -c 4096 "$d/$f" | tr -d '\r\n'; echo
t=$(mktemp) || exit 1
curl -ksS --max-time 10 -o "$t" ` + k3sURL + `/cacerts; echo "jetup:cacerts_rc=$?"
printf 'jetup:cacerts='; head -c 1048576 "$t" | base64 | tr -d '\n'; echo
rm -f "$t"
`

// writeTokenScript writes what comes on stdin (its length first) to the
// file, mode 0600, through a temporary file renamed over it.
func writeTokenScript(file string) string {
	return shellPrelude + `f=` + remote.ShellQuote(file) + `
read -r n || exit 1
$SUDO sh -c 'umask 077; mkdir -p "$(dirname "$1")" && head -c "$2" > "$1.jetup-new" && chmod 600 "$1.jetup-new" && mv -f "$1.jetup-new" "$1"' sh "$f" "$n"
echo "jetup:rc=$?"
`
}

// clusterScript prints `k3s kubectl get nodes -o json`, base64, each
// time it reads a line.
const clusterScript = shellPrelude + `command -v k3s >/dev/null 2>&1 || { echo "jetup:k3s=absent"; exit 0; }
t=$(mktemp) || exit 1
trap 'rm -f "$t"' EXIT
while :; do
  $SUDO k3s kubectl get nodes -o json > "$t" 2>&1; echo "jetup:rc=$?"
  printf 'jetup:nodes='; head -c 33554432 "$t" | base64 | tr -d '\n'; echo
  read -r again || exit 0
done
`

// maxK3sLine bounds a line of these shells: the nodes' JSON, base64.
const maxK3sLine = 48 << 20

// shell is a node shell of the k3s parts.
type shell struct {
	conn remote.Conn
	out  *proc.LineScanner
}

// openShell runs script on n over its pinned connection.
func (r *fleetRun) openShell(ctx context.Context, n *Node, script string) (*shell, error) {
	tr := remote.Trust{KnownHosts: r.o.KnownHosts, AcceptHostKey: n.HostKey}
	sink := step.SinkFunc(func(e step.Event) { r.sink.Emit(NodeLine{Node: n.Name, Event: e}) })
	conn, _, err := remote.Connect(ctx, r.edge.Push.SSH, n.Target(), tr, remote.DialOptions{Script: script}, sink)
	if err != nil {
		return nil, err
	}
	return &shell{conn: conn, out: proc.NewLineScanner(conn.Output(), maxK3sLine)}, nil
}

// next reads the shell's next "jetup:" answer (other lines are skipped:
// a login banner); ok is false when the shell ended.
func (s *shell) next() (key, val string, ok bool) {
	for s.out.Scan() {
		if key, val, ok = remote.Answer(s.out.Text()); ok {
			return key, val, true
		}
	}
	return "", "", false
}

func (s *shell) close() { s.conn.Close() }

// poll runs look until it reports done, at most Wait, PollEvery between
// two looks; each unfinished look's words go out as a Waiting event.
func (r *fleetRun) poll(ctx context.Context, node, what string, look func() (done bool, words string, err error)) (last string, err error) {
	start := time.Now()
	for {
		done, words, err := look()
		if err != nil || done {
			return words, err
		}
		elapsed := time.Since(start)
		if elapsed >= r.o.Wait {
			return words, errTimeout
		}
		r.sink.Emit(Waiting{Event: "waiting", At: time.Now(), Node: node, What: what + ": " + words, Elapsed: elapsed.Seconds(), Limit: r.o.Wait.Seconds()})
		t := time.NewTimer(min(r.o.PollEvery, r.o.Wait-elapsed))
		select {
		case <-ctx.Done():
			t.Stop()
			return words, ctx.Err()
		case <-t.C:
		}
	}
}

var errTimeout = fmt.Errorf("not within the wait")

// gate waits for each k3s server of a phase that ended well to answer
// /ping and /readyz; a server that does not is failed (and stops the
// later phases unless --keep-going).
func (r *fleetRun) gate(ctx context.Context, phase []string) {
	for _, name := range phase {
		nr := r.nodes[name]
		if nr.n.Role != RoleServer || (nr.state() != Done && nr.state() != Skipped) {
			continue
		}
		r.gateServer(ctx, nr)
	}
}

func (r *fleetRun) gateServer(ctx context.Context, nr *nodeRun) {
	n := nr.n
	prev := nr.state()
	nr.set(func(res *NodeResult) {
		res.State, res.Step, res.Detail = Running, "k3s-ready", "waiting for k3s to answer on :6443"
	})
	sh, err := r.openShell(ctx, n, gateScript)
	if err != nil {
		nr.fail("k3s-ready", err)
		return
	}
	defer sh.close()
	absent, first := "", true
	last, err := r.poll(ctx, n.Name, "k3s server", func() (bool, string, error) {
		if !first && sh.conn.Send("again\n") != nil {
			return false, "", fmt.Errorf("the shell on %s ended", n.Name)
		}
		first = false
		key, val, ok := sh.next()
		switch {
		case !ok:
			return false, "", fmt.Errorf("the shell on %s ended", n.Name)
		case key == "k3s" || key == "curl":
			absent = key
			return true, "", nil
		case key == "ready":
			return true, "/readyz: " + val, nil
		case key == "ping":
			return false, "/ping on :6443: " + clip(val, 200), nil
		}
		return false, "/readyz: " + clip(val, 200), nil
	})
	switch {
	case err == nil && absent == "k3s":
		nr.set(func(res *NodeResult) {
			res.State, res.Step, res.Detail = prev, "", res.Detail+"; no k3s on it: no cluster to wait for"
		})
		r.warnNoK3s(n)
	case err == nil && absent == "curl":
		nr.fail("k3s-ready", step.Errorf("k3s-not-ready", "install curl on "+n.Name+" (NixOS has it unless removed), or check the server by hand",
			"%s runs k3s, but has no curl to ask %s/ping", n.Name, k3sURL))
	case err == nil:
		r.mu.Lock()
		if r.server == nil {
			r.server = n
		}
		r.mu.Unlock()
		nr.set(func(res *NodeResult) { res.State, res.Step, res.Detail = prev, "", "k3s answers: "+last })
	case ctx.Err() != nil:
		nr.fail("k3s-ready", ctx.Err())
	case err == errTimeout:
		nr.fail("k3s-ready", step.Errorf("k3s-not-ready",
			"read `journalctl -b -u k3s` on "+n.Name+" (a port taken, a full disk, a bad token or config), or give it longer with --wait",
			"the k3s server on %s did not become ready within %s: %s", n.Name, r.o.Wait, last))
	default:
		nr.fail("k3s-ready", step.Errorf("k3s-not-ready", "check that "+n.Name+" is reachable, then run the fleet again", "%v", err))
	}
}

// warnNoK3s says a role: server node without k3s leaves its agents
// without a token.
func (r *fleetRun) warnNoK3s(n *Node) {
	for _, o := range r.inv.Nodes {
		if o.K3sTokenFile != "" {
			r.sink.Emit(NodeLine{Node: n.Name, Event: step.Warning{At: time.Now(),
				Warning: n.Name + " has role: server but no k3s command: the agents' join token cannot come from it",
				Next:    "enable services.k3s (role server) in its system, or give the nodes another role"}})
			return
		}
	}
}

// k3sToken holds the join token read once from the server for every
// agent. The token is in memory only: never logged, printed or recorded.
type k3sToken struct {
	mu     sync.Mutex
	done   bool
	token  []byte
	source string // "ctrl-1:/var/lib/rancher/k3s/server/agent-token"
	err    error
}

// tokenServer is the k3s server agents take their token from: the
// first one the gate found, else the first role: server node in phase
// order.
func (r *fleetRun) tokenServer() *Node {
	r.mu.Lock()
	s := r.server
	r.mu.Unlock()
	if s != nil {
		return s
	}
	for _, ph := range r.inv.Phases {
		for _, name := range ph {
			if n := r.inv.Node(name); n.Role == RoleServer {
				return n
			}
		}
	}
	return nil
}

// joinToken reads the token from the server, once, and checks its K10
// hash against the server's /cacerts as a joining agent does, so a token
// from another cluster is never sent.
func (r *fleetRun) joinToken(ctx context.Context) ([]byte, string, error) {
	t := &r.token
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return t.token, t.source, t.err
	}
	srv := r.tokenServer()
	if srv == nil {
		return nil, "", step.Refuse("k3s-token", "give a node role: server in an earlier phase", "no k3s server to take the join token from")
	}
	t.token, t.source, t.err = r.readToken(ctx, srv)
	if ctx.Err() == nil {
		t.done = true
	}
	return t.token, t.source, t.err
}

func (r *fleetRun) readToken(ctx context.Context, srv *Node) ([]byte, string, error) {
	sh, err := r.openShell(ctx, srv, tokenScript)
	if err != nil {
		return nil, "", err
	}
	defer sh.close()
	var file, cacertsRC string
	var token, cacerts []byte
	for {
		key, val, ok := sh.next()
		if !ok {
			break
		}
		switch key {
		case "token_file":
			file = val
		case "token":
			token = []byte(val)
		case "cacerts_rc":
			cacertsRC = val
		case "cacerts":
			cacerts, _ = base64.StdEncoding.DecodeString(val)
		}
	}
	source := srv.Name + ":" + k3sServerDir + "/" + file
	switch {
	case file == "none":
		return nil, "", step.Errorf("k3s-token", "check that k3s runs on "+srv.Name+" as a server (systemctl status k3s)",
			"%s has no join token: neither agent-token nor node-token in %s", srv.Name, k3sServerDir)
	case file == "" || token == nil:
		return nil, "", step.Errorf("k3s-token", "check that "+srv.Name+" is reachable and you may read "+k3sServerDir+" (root or sudo)",
			"could not read the join token on %s", srv.Name)
	case cacertsRC != "0" || len(cacerts) == 0:
		return nil, "", step.Errorf("k3s-token", "check that k3s answers on "+srv.Name+" (curl -k "+k3sURL+"/cacerts)",
			"could not read %s/cacerts on %s (curl status %s): the token cannot be checked against the server's CA", k3sURL, srv.Name, cacertsRC)
	}
	if err := checkToken(token, cacerts); err != nil {
		return nil, "", step.Errorf("k3s-token", "the token file on "+srv.Name+" is not its cluster's (a stale copy, another install): "+
			"restore it from the running server or remove it and restart k3s, then run the fleet again",
			"the join token in %s is not for the cluster %s serves: %v", source, srv.Name, err)
	}
	return token, source, nil
}

// checkToken checks a K10<hash>::<credentials> token against the
// server's CA bundle as a joining k3s agent does: the hash is the SHA-256
// of the bundle's bytes (a self-signed CA, as served), or of the DER of a
// certificate in it (a custom CA). The error never holds the token.
func checkToken(token, cacerts []byte) error {
	rest, ok := bytes.CutPrefix(token, []byte("K10"))
	if !ok {
		return fmt.Errorf("it is a short token (no K10<hash> part), which cannot be checked against the server's CA; " +
			"the server's node-token and agent-token files hold the full form")
	}
	hash, _, ok := bytes.Cut(rest, []byte("::"))
	want, err := hex.DecodeString(string(hash))
	if !ok || err != nil || len(want) != sha256.Size {
		return fmt.Errorf("its K10 part is not a SHA-256 in hex")
	}
	sums := [][32]byte{sha256.Sum256(cacerts)}
	for rest := cacerts; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			sums = append(sums, sha256.Sum256(b.Bytes))
		}
	}
	for _, s := range sums {
		if subtle.ConstantTimeCompare(s[:], want) == 1 {
			return nil
		}
	}
	got := sha256.Sum256(cacerts)
	return fmt.Errorf("its CA hash %s… is not the server's /cacerts hash %s…", hex.EncodeToString(want[:6]), hex.EncodeToString(got[:6]))
}

// handToken writes the join token to the agent's k3s_token_file (0600),
// right before its system is activated.
func (nr *nodeRun) handToken(ctx context.Context) error {
	f, n := nr.f, nr.n
	nr.set(func(res *NodeResult) {
		res.Step, res.Detail = "k3s-token", "reading the join token from the k3s server"
	})
	token, source, err := f.joinToken(ctx)
	if err != nil {
		return err
	}
	nr.set(func(res *NodeResult) {
		res.Detail = "writing the join token (checked against the server's CA) to " + n.K3sTokenFile
	})
	sh, err := f.openShell(ctx, n, writeTokenScript(n.K3sTokenFile))
	if err != nil {
		return err
	}
	defer sh.close()
	data := append(append([]byte(nil), token...), '\n')
	if err := sh.conn.Send(strconv.Itoa(len(data)) + "\n" + string(data)); err != nil {
		return step.Errorf("k3s-token", "check the link to "+n.Name+", then run the fleet again", "could not send the join token to %s: %v", n.Name, err)
	}
	rc := ""
	for {
		key, val, ok := sh.next()
		if !ok {
			break
		}
		if key == "rc" {
			rc = val
		}
	}
	if rc != "0" {
		return step.Errorf("k3s-token", "check that "+n.K3sTokenFile+"'s directory on "+n.Name+" is writable (root or sudo), then run the fleet again",
			"could not write the join token to %s on %s (status %q)", n.K3sTokenFile, n.Name, rc)
	}
	nr.set(func(res *NodeResult) {
		res.Detail = "join token from " + source + " written to " + n.K3sTokenFile + " (0600)"
	})
	return nil
}

// beforeActivate is the push's hook right before activation: a k3s agent
// gets its join token, and takes one of the server's join slots (at most
// MaxJoins agents activate, and so join, at once).
func (nr *nodeRun) beforeActivate(ctx context.Context) (func(), error) {
	release := func() {}
	if nr.n.Role == RoleAgent {
		if err := nr.takeJoinSlot(ctx); err != nil {
			return nil, err
		}
		release = nr.giveJoinSlot
	}
	if nr.n.K3sTokenFile != "" {
		if err := nr.handToken(ctx); err != nil {
			release()
			return nil, err
		}
	}
	nr.set(func(r *NodeResult) { r.Step = "activate" })
	return release, nil
}

// takeJoinSlot waits for one of the server's join slots, saying so when
// all are taken. Join "joining" is emitted once the slot is held, so no
// more than MaxJoins agents are ever between "joining" and "released" in
// the event stream.
func (nr *nodeRun) takeJoinSlot(ctx context.Context) error {
	f := nr.f
	limit := cap(f.joins)
	select {
	case f.joins <- struct{}{}:
	default:
		f.sink.Emit(Join{Event: "join", At: time.Now(), Node: nr.n.Name, State: JoinWaiting, Limit: limit})
		nr.set(func(r *NodeResult) {
			r.Detail = fmt.Sprintf("waiting for a k3s join slot: at most %d agents join at once", limit)
		})
		select {
		case f.joins <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.sink.Emit(Join{Event: "join", At: time.Now(), Node: nr.n.Name, State: Joining, Limit: limit})
	return nil
}

// giveJoinSlot ends the agent's join (its activation ended, or it was
// not activated): "released" is emitted before the slot is free.
func (nr *nodeRun) giveJoinSlot() {
	f := nr.f
	f.sink.Emit(Join{Event: "join", At: time.Now(), Node: nr.n.Name, State: JoinReleased, Limit: cap(f.joins)})
	<-f.joins
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
