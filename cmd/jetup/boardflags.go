package main

import (
	"github.com/spf13/cobra"

	"github.com/jetup/jetup/remote"
)

// boardFlags are the flags of every command that reaches one booted board
// over SSH (push, verify, manifest, update): the same names, defaults and
// host-key help everywhere; only --host's and --user's help say what the
// command needs.
type boardFlags struct {
	target        remote.Target
	acceptHostKey string
	forget        bool
}

func (b *boardFlags) register(cmd *cobra.Command, hostHelp, userHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&b.target.Host, "host", "", hostHelp)
	fl.IntVar(&b.target.Port, "port", 22, "the board's ssh port")
	fl.StringVar(&b.target.User, "user", "root", userHelp)
	fl.StringVar(&b.target.Identity, "identity", "", "private key file (default: ssh's own keys and agent)")
	fl.StringVar(&b.acceptHostKey, "accept-host-key", "", "pin a new board's host key if its fingerprint is this SHA256:...")
	fl.BoolVar(&b.forget, "forget-host-key", false, "drop the key pinned for this host first (the board was reflashed or swapped)")
}

// trust is what the flags say about the board's host key, against jetup's
// own known_hosts.
func (a *app) trust(b boardFlags) remote.Trust {
	return remote.Trust{KnownHosts: a.knownHostsFile(), AcceptHostKey: b.acceptHostKey, ForgetHostKey: b.forget}
}
