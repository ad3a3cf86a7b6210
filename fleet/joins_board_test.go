package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/step"
)

// More k3s agents than the server's join limit, in one phase, pushed at
// once: counted from the fleet's join events (an agent is joining between
// its "joining" and its "released"), never more than the limit join at
// once, and those beyond wait and say so. The agents' activations hold on
// until the test has seen the limit reached and the others waiting (the
// board's switch-to-configuration waits for a file the test writes), so
// a fleet without the limit would have every agent joining at once.
func TestBoardK3sAgentsJoinAtMostTheLimitAtOnce(t *testing.T) {
	testboard.Need(t)
	nixEnv(t)
	const agents, limit = 4, 2
	dir := t.TempDir()
	var boards []*testboard.Board
	inv := "nodes:\n"
	for i := range agents {
		b := newBoard(t, nil, nil)
		boards = append(boards, b)
		inv += nodeLine(fmt.Sprintf("a%d", i), b, ".#agent", ", role: agent")
	}
	// Bounded: 120 s "waiting for the test to let the activations go".
	hold := testboard.CurrentSystem + `i=0
while [ ! -e /run/jetup-board/state/go ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
`
	flakeSystems(t, dir, map[string]testboard.System{"agent": {Name: "fleet-join-agent", Small: 2, Activate: hold}})
	inv += "phases:\n  - [a0, a1, a2, a3]\n"
	o := fleetOptions(t, t.TempDir(), loadInv(t, filepath.Join(dir, "fleet.yaml"), inv))
	o.NoVerify, o.MaxJoins, o.Parallel = true, limit, agents

	var mu sync.Mutex
	joining, waited := map[string]bool{}, map[string]bool{}
	most, released := 0, false
	var order []string
	letGo := func() {
		if !released {
			released = true
			for _, b := range boards {
				if err := os.WriteFile(filepath.Join(b.Dir, "state", "go"), nil, 0o644); err != nil {
					t.Error(err)
				}
			}
		}
	}
	ev := &events{on: func(e step.Event) {
		j, ok := e.(Join)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		order = append(order, j.Node+" "+string(j.State))
		switch j.State {
		case JoinWaiting:
			waited[j.Node] = true
		case Joining:
			joining[j.Node] = true
		case JoinReleased:
			delete(joining, j.Node)
		}
		most = max(most, len(joining))
		if len(joining) > limit || len(joining) == limit && len(waited) == agents-limit {
			letGo()
		}
	}}
	res, err := Push(t.Context(), realEdge, o, ev)
	if err != nil {
		t.Fatalf("fleet push refused: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	letGo() // whatever happened, the boards' activations end
	if res.ExitCode != 0 {
		t.Fatalf("exit %d %+v\n%s", res.ExitCode, res.Nodes, ev.text())
	}
	if most != limit || len(waited) != agents-limit {
		t.Errorf("at most %d agents joined at once (limit %d), %d waited (want %d):\n%s", most, limit, len(waited), agents-limit, strings.Join(order, "\n"))
	}
	for _, b := range boards {
		if got := b.Read("var/jetup-activations.log"); got != "switch\n" {
			t.Errorf("%s activated %q", b.Addr, got)
		}
	}
	if !strings.Contains(ev.text(), fmt.Sprintf("waiting for a k3s join slot (at most %d agents join at once)", limit)) {
		t.Errorf("no agent said it waited for a join slot:\n%s", ev.text())
	}
}

// Without MaxJoins, the server's limit is k3s's own: ten.
func TestJoinLimitDefaultsToTen(t *testing.T) {
	file := write(t, "fleet.yaml", "nodes:\n  c: {host: 10.0.0.10, system: "+ctrlSystem+"}\nphases:\n  - [c]\n")
	inv, err := Load(t.Context(), file, LoadOptions{Profiles: testProfiles(t), Resolve: resolveIn(ctrlSystem)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := start(Edge{}, fleetOptions(t, t.TempDir(), inv), &events{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.log.Close()
	if cap(r.joins) != 10 || MaxJoins != 10 {
		t.Errorf("%d agents join at once by default, want 10", cap(r.joins))
	}
}
