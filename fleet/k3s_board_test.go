package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/step"
)

// The k3s on these boards is a stand-in (their k3s is what we cannot have
// here): `k3s kubectl` answers from the test's state directory with what
// the real one prints, and the server's supervisor port (:6443 on the
// board's own loopback) is a real TLS server of the test's, in the
// board's network namespace, answering /ping with "pong" and /cacerts
// with the cluster CA's PEM as k3s does (k3s-io/docs, cli/token.md: "With
// TLS verification disabled, download the CA bundle from /cacerts ...
// Calculate the SHA256 hash of the CA certificate").
//
// `k3s kubectl get --raw /readyz` prints "ok" when ready; when not,
// kubectl's error for a failed readyz (kubernetes/kubernetes,
// staging/src/k8s.io/apiserver/pkg/server/healthz: "[-]etcd failed:
// reason withheld ... readyz check failed").
const standInK3s = `#!/bin/sh
S=/run/jetup-board/state
[ "$1" = kubectl ] || { echo "k3s stand-in: only kubectl here" >&2; exit 1; }
shift
case "$*" in
"get --raw /readyz")
  if [ -f $S/readyz-failing ]; then
    echo 'Error from server (InternalError): an error on the server ("[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed") has prevented the request from succeeding' >&2
    exit 1
  fi
  echo ok ;;
"get nodes -o json") cat $S/nodes.json ;;
*) echo "k3s stand-in: $* is not answered here" >&2; exit 1 ;;
esac
`

// kubeNode is one item of `kubectl get nodes -o json` as kubectl prints
// it: a List of v1 Node objects (kubectl wraps the items of a get in
// "kind": "List"); the Ready condition's reasons and messages are the
// kubelet's own (kubernetes/kubernetes, pkg/kubelet/nodestatus/
// setters.go: KubeletReady "kubelet is posting ready status",
// KubeletNotReady with the runtime's "container runtime network not
// ready: ... cni plugin not initialized").
func kubeNodeJSON(name, ip string, ready bool, gpus int) map[string]any {
	cond := map[string]any{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
		"lastHeartbeatTime": "2026-12-06T11:00:00Z", "lastTransitionTime": "2026-12-06T10:59:30Z"}
	if !ready {
		cond["status"], cond["reason"] = "False", "KubeletNotReady"
		cond["message"] = "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"
	}
	alloc := map[string]any{"cpu": "6", "ephemeral-storage": "57911198633", "hugepages-2Mi": "0", "memory": "7831704Ki", "pods": "110"}
	if gpus >= 0 {
		alloc["nvidia.com/gpu"] = fmt.Sprint(gpus)
	}
	return map[string]any{"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"kubernetes.io/hostname": name, "kubernetes.io/arch": "arm64"}},
		"spec":     map[string]any{"podCIDR": "10.42.1.0/24"},
		"status": map[string]any{
			"addresses":   []any{map[string]any{"address": ip, "type": "InternalIP"}, map[string]any{"address": name, "type": "Hostname"}},
			"allocatable": alloc, "capacity": alloc,
			"conditions": []any{
				map[string]any{"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
				cond,
			},
			"nodeInfo": map[string]any{"kubeletVersion": "v1.30.6+k3s1", "containerRuntimeVersion": "containerd://1.7.22-k3s1", "architecture": "arm64"},
		}}
}

func writeNodes(t *testing.T, b *testboard.Board, items ...map[string]any) {
	t.Helper()
	raw, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""}}, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, b, "nodes.json", string(raw))
}

func writeState(t *testing.T, b *testboard.Board, name, content string) {
	t.Helper()
	tmp := filepath.Join(b.Dir, "state", "."+name)
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(b.Dir, "state", name)); err != nil {
		t.Fatal(err)
	}
}

// clusterCA is a k3s server's CA as /cacerts serves it (PEM), and a
// serving certificate it signed.
type clusterCA struct {
	pem  []byte
	cert tls.Certificate
}

func newClusterCA(t *testing.T) clusterCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k3s-server-ca@1733482800"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(der)
	skey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "k3s"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	lder, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &skey.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return clusterCA{pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		cert: tls.Certificate{Certificate: [][]byte{lder, der}, PrivateKey: skey}}
}

// token is a full join token for the CA: K10<sha256 of the PEM>::<creds>.
func (c clusterCA) token(creds string) string {
	sum := sha256.Sum256(c.pem)
	return "K10" + hex.EncodeToString(sum[:]) + "::" + creds
}

// supervisor serves /ping and /cacerts on 127.0.0.1:6443 inside the
// board's network namespace, until stop (or the test's end).
func supervisor(t *testing.T, b *testboard.Board, ca clusterCA) (stop func()) {
	t.Helper()
	type res struct {
		ln  net.Listener
		err error
	}
	ch := make(chan res, 1)
	go func() {
		// This thread enters the board's namespace and is never unlocked:
		// Go ends it with the goroutine. The socket stays in the board's.
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + b.Name)
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- res{err: err}
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:6443")
		ch <- res{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listening on the board's :6443: %v", r.err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "pong") })
	mux.HandleFunc("/cacerts", func(w http.ResponseWriter, _ *http.Request) { w.Write(ca.pem) })
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.cert}}}
	go srv.ServeTLS(r.ln, "", "")
	var once sync.Once
	stop = func() { once.Do(func() { srv.Close() }) }
	t.Cleanup(stop)
	return stop
}

// k3sBoard is a board whose /var/lib is its own, with dir of the test's
// linked in at link.
func k3sBoard(t *testing.T, link, dir string) *testboard.Board {
	t.Helper()
	b := testboard.New(t, testboard.Options{System: initialSystem, Tools: map[string]string{"systemctl": fakeSystemctl},
		Tmpfs: []string{"/var/lib"}, Links: map[string]string{link: "/run/jetup-board/" + dir}})
	for _, d := range []string{"state", dir} {
		if err := os.MkdirAll(filepath.Join(b.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

const agentTokenFile = "/var/lib/rancher/k3s/agent/token"

// A k3s cluster in two phases, run after run: the server's readiness
// gates the agents' phase; a token from another cluster is never sent;
// the right one is written 0600 before the agents activate, and appears
// in no event, output or record; the cluster check waits for the nodes,
// then names those not Ready or without their GPU; a server that never
// answers stops the agents' phase.
func TestBoardK3sClusterInPhases(t *testing.T) {
	testboard.Need(t)
	nixEnv(t)
	srv := k3sBoard(t, "/var/lib/rancher/k3s/server", "k3s")
	a1 := k3sBoard(t, "/var/lib/rancher", "rancher")
	a2 := k3sBoard(t, "/var/lib/rancher", "rancher")
	dir := t.TempDir()
	recordToken := testboard.CurrentSystem + `f=` + agentTokenFile + `
[ -s $f ] && echo "token-present $(stat -c %a $f)" >> /nix/var/jetup-activations.log
`
	flakeSystems(t, dir, map[string]testboard.System{
		"server": {Name: "fleet-k3s-server", Small: 2, Tools: map[string]string{"systemctl": fakeSystemctl, "k3s": standInK3s}},
		"agent":  {Name: "fleet-k3s-agent", Small: 2, Activate: recordToken},
	})
	tf := ", k3s_token_file: " + agentTokenFile
	inv := loadInv(t, filepath.Join(dir, "fleet.yaml"), "nodes:\n"+nodeLine("srv", srv, ".#server", ", role: server")+
		nodeLine("a1", a1, ".#agent", ", role: agent, profile: orin-nano-devkit"+tf)+nodeLine("a2", a2, ".#agent", ", role: agent"+tf)+
		"phases:\n  - [srv]\n  - [a1, a2]\n")
	state := t.TempDir()
	ca, other := newClusterCA(t), newClusterCA(t)
	stop := supervisor(t, srv, ca)
	good, stale := ca.token("server:3f1c0d9e5b7a2c4e6f8a0b1d2c3e4f5a"), other.token("server:0011223344556677")
	var secrets []string
	for _, s := range []string{good, stale} {
		secrets = append(secrets, s, s[strings.Index(s, "::"):])
	}
	allNodes := func(a1GPUs int, a2Ready bool) {
		writeNodes(t, srv, kubeNodeJSON("srv", srv.Addr, true, -1), kubeNodeJSON("a1", a1.Addr, true, a1GPUs), kubeNodeJSON("a2", a2.Addr, a2Ready, -1))
	}
	opts := func() Options {
		o := fleetOptions(t, state, inv)
		o.NoVerify = true
		return o
	}
	runWith := func(o Options, on func(step.Event)) (*Result, *events) {
		ev := &events{on: on}
		res, err := Push(t.Context(), realEdge, o, ev)
		if err != nil {
			t.Fatalf("fleet push refused: %v", err)
		}
		noSecret(t, secrets, state, ev)
		return res, ev
	}

	// Run 1: the server's readyz fails until the fleet waits for it; its
	// token file is another cluster's: the agents get nothing.
	writeState(t, srv, "readyz-failing", "")
	writeFile(t, filepath.Join(srv.Dir, "k3s", "node-token"), stale+"\n")
	writeNodes(t, srv, kubeNodeJSON("srv", srv.Addr, true, -1))
	res, ev := runWith(opts(), func(e step.Event) {
		if w, ok := e.(Waiting); ok && w.Node == "srv" && strings.Contains(w.What, "readyz check failed") {
			os.Remove(filepath.Join(srv.Dir, "state", "readyz-failing"))
		}
	})
	nodes := byName(res)
	if n := nodes["srv"]; n.State != Done || !strings.Contains(n.Detail, "k3s answers: /readyz: ok") {
		t.Errorf("run 1: srv %+v\n%s", n, ev.text())
	}
	if !strings.Contains(ev.text(), "srv: waiting") {
		t.Errorf("run 1: the fleet did not say it waited for the server:\n%s", ev.text())
	}
	for _, name := range []string{"a1", "a2"} {
		n := nodes[name]
		if n.State != Failed || n.Step != "k3s-token" || n.Cause != "k3s-token" || !strings.Contains(n.Detail, "not for the cluster srv serves") {
			t.Errorf("run 1: %s %+v", name, n)
		}
	}
	if a1.Read("var/jetup-activations.log") != "" || fileExists(filepath.Join(a1.Dir, "rancher", "k3s", "agent", "token")) {
		t.Error("run 1: an agent was activated or got a token from another cluster")
	}
	if res.ExitCode != 1 || res.Cluster == nil || !res.Cluster.OK() {
		t.Errorf("run 1: exit %d, cluster %+v", res.ExitCode, res.Cluster)
	}

	// Run 2: the server's own token; a2 is NotReady until the fleet waits
	// for the cluster.
	writeFile(t, filepath.Join(srv.Dir, "k3s", "node-token"), good+"\n")
	allNodes(1, false)
	res, ev = runWith(opts(), func(e step.Event) {
		if w, ok := e.(Waiting); ok && w.Node == "srv" && strings.Contains(w.What, "cluster: a2: not Ready: Ready=False KubeletNotReady") {
			allNodes(1, true)
		}
	})
	nodes = byName(res)
	if res.ExitCode != 0 || nodes["srv"].State != Skipped || nodes["a1"].State != Done || nodes["a2"].State != Done {
		t.Fatalf("run 2: exit %d %+v\n%s", res.ExitCode, res.Nodes, ev.text())
	}
	for _, b := range []*testboard.Board{a1, a2} {
		file := filepath.Join(b.Dir, "rancher", "k3s", "agent", "token")
		fi, err := os.Stat(file)
		got, _ := os.ReadFile(file)
		if err != nil || fi.Mode().Perm() != 0o600 || string(got) != good+"\n" {
			t.Errorf("run 2: %s's token file: %v, mode %v, right content %v", b.Addr, err, fi.Mode(), string(got) == good+"\n")
		}
		if got := b.Read("var/jetup-activations.log"); got != "switch\ntoken-present 600\n" {
			t.Errorf("run 2: the token was not there, 0600, when %s activated: %q", b.Addr, got)
		}
	}
	c := res.Cluster
	if c == nil || !c.OK() || len(c.Nodes) != 3 || c.Nodes[1].Name != "a1" || !c.Nodes[1].Jetson || c.Nodes[1].GPUs != 1 ||
		!strings.Contains(c.Text(), "3 nodes Ready, 1 with nvidia.com/gpu") {
		t.Errorf("run 2: cluster %+v", c)
	}

	// Run 3: a1 offers no GPU and a2 is not Ready: named, exit 1.
	allNodes(-1, false)
	o := opts()
	o.Wait = 2 * time.Second // what is awaited here never comes
	res, _ = runWith(o, nil)
	if txt := res.Cluster.Text(); res.ExitCode != 1 || !strings.Contains(txt, "a1: offers no nvidia.com/gpu") ||
		!strings.Contains(txt, "a2: not Ready: Ready=False KubeletNotReady: container runtime network not ready") || res.Cluster.Cause != "cluster-not-ready" {
		t.Errorf("run 3: exit %d, cluster %s", res.ExitCode, txt)
	}

	// Run 4: the server never answers on :6443: the agents' phase does
	// not run.
	stop()
	res, _ = runWith(o, nil)
	nodes = byName(res)
	if n := nodes["srv"]; res.ExitCode != 1 || n.State != Failed || n.Cause != "k3s-not-ready" || !strings.Contains(n.Detail, "/ping on :6443") {
		t.Errorf("run 4: exit %d, srv %+v", res.ExitCode, n)
	}
	if nodes["a1"].State != NotRun || nodes["a2"].State != NotRun {
		t.Errorf("run 4: agents %+v %+v", nodes["a1"], nodes["a2"])
	}
}

// noSecret fails when a token (or its credentials part) is in an event,
// as text or JSON, or in any file of the state directory.
func noSecret(t *testing.T, secrets []string, state string, ev *events) {
	t.Helper()
	ev.mu.Lock()
	var all strings.Builder
	for _, e := range ev.all {
		all.WriteString(e.Text())
		b, _ := json.Marshal(e)
		all.Write(b)
	}
	ev.mu.Unlock()
	_ = filepath.Walk(state, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			for _, s := range secrets {
				if strings.Contains(string(b), s) {
					t.Errorf("a k3s token is in %s", p)
				}
			}
		}
		return nil
	})
	for _, s := range secrets {
		if strings.Contains(all.String(), s) {
			t.Error("a k3s token is in the fleet's events")
		}
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
