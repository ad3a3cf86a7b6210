package tui

import (
	"context"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/remote"
)

// hostKeyQuestion is a run's first contact with a board's host key, shared
// by Push and Verify: the key as remote reported it, and the y/n question
// when nobody vouched for a new key. Each attempt has its own, so a
// question left unanswered by an attempt never answers the next one.
type hostKeyQuestion struct {
	vouched bool // the console or a flag vouches for a new key: no question
	key     *remote.HostKey
	asking  bool   // waiting for y/n on a new host key
	changed string // the new fingerprint, when the pinned one changed
	answers chan bool
}

func newHostKeyQuestion(vouched bool) hostKeyQuestion {
	return hostKeyQuestion{vouched: vouched, answers: make(chan bool, 1)}
}

// prompt is remote's Trust.Prompt: it waits for the person's y or n.
func (q *hostKeyQuestion) prompt(ctx context.Context, _ remote.HostKey) (bool, error) {
	select {
	case ok := <-q.answers:
		return ok, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// hostKey takes remote's HostKey event.
func (q *hostKeyQuestion) hostKey(e remote.HostKey) {
	q.key = &e
	switch e.Status {
	case remote.KeyNew:
		q.asking = !q.vouched
	case remote.KeyChanged:
		q.changed = e.Fingerprint
	}
}

// answer takes y or n while the question is open; false for any other key.
func (q *hostKeyQuestion) answer(k tea.KeyPressMsg) bool {
	if !q.asking {
		return false
	}
	switch {
	case key.Matches(k, pushTrustKey):
		q.asking = false
		q.answers <- true
	case key.Matches(k, pushRefuseKey):
		q.asking = false
		q.answers <- false
	default:
		return false
	}
	return true
}

// questionLines are the open question's lines on a screen w wide.
func (q *hostKeyQuestion) questionLines(st *Styles, w int) []string {
	if !q.asking {
		return nil
	}
	return []string{"", st.Warn.Render("! First contact: is this the board's key?"),
		wrapIndent("Compare it with the board's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub). y trusts and pins it, n stops.", w, "  ")}
}
