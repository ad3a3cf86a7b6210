package tui

import (
	"context"
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/remote"
)

func TestHostKeyQuestionAsksOnlyForAnUnvouchedNewKey(t *testing.T) {
	y, n, other := tea.KeyPressMsg{Code: 'y', Text: "y"}, tea.KeyPressMsg{Code: 'n', Text: "n"}, tea.KeyPressMsg{Code: 'r', Text: "r"}

	q := newHostKeyQuestion(false)
	if q.answer(y) {
		t.Fatal("y was taken with no question open")
	}
	q.hostKey(remote.HostKey{Status: remote.KeyNew, Fingerprint: "SHA256:new"})
	if !q.asking || q.key == nil || q.key.Fingerprint != "SHA256:new" {
		t.Fatalf("a new key nobody vouched for: asking %v, key %v", q.asking, q.key)
	}
	if l := q.questionLines(DefaultStyles(), 80); len(l) != 3 || !strings.Contains(l[1], "First contact") {
		t.Fatalf("the open question shows %q", l)
	}
	if q.answer(other) || !q.asking {
		t.Fatal("a key other than y or n answered the question")
	}
	if !q.answer(n) || q.asking {
		t.Fatal("n did not answer the question")
	}
	if ok, err := q.prompt(context.Background(), remote.HostKey{}); ok || err != nil {
		t.Fatalf("after n the prompt said %v, %v; want false", ok, err)
	}

	q.hostKey(remote.HostKey{Status: remote.KeyNew})
	if !q.answer(y) {
		t.Fatal("y did not answer the question")
	}
	if ok, err := q.prompt(context.Background(), remote.HostKey{}); !ok || err != nil {
		t.Fatalf("after y the prompt said %v, %v; want true", ok, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.prompt(ctx, remote.HostKey{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled prompt returned %v", err)
	}

	v := newHostKeyQuestion(true)
	v.hostKey(remote.HostKey{Status: remote.KeyNew})
	if v.asking || v.questionLines(DefaultStyles(), 80) != nil {
		t.Fatal("a vouched key was asked about")
	}
	v.hostKey(remote.HostKey{Status: remote.KeyChanged, Fingerprint: "SHA256:other"})
	if v.changed != "SHA256:other" || v.asking {
		t.Fatalf("a changed key: changed %q asking %v", v.changed, v.asking)
	}
}
