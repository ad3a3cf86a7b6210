// Package fleet brings up many machines in phases from one inventory: the
// inventory itself (fleet.yaml, JSON, or a Nix file evaluated with `nix
// eval --json --file`), validated with file:line errors before anything
// starts; `jetup fleet push`, which builds each distinct system once,
// pushes phase by phase with deploy's push (pinned keys, preflight, delta,
// activation under systemd-run), verifies each node with verify's checks,
// orders a k3s cluster (a server answers before the next phase, agents get
// their join token before they activate) and checks the cluster at the
// end; pushes through a binary cache so the host's uplink carries each
// path once; and the export of the inventory to colmena and deploy-rs,
// with jetup's pinned host keys.
//
// k3s, all over the nodes' pinned SSH (no port but 22 needed from this
// machine):
//
//   - After a phase, each role: server node of it that ended well and has
//     a k3s command gates the next phase: on the server, curl -k
//     https://127.0.0.1:6443/ping must print "pong", then `k3s kubectl get
//     --raw /readyz` must succeed, looked at every PollEvery up to --wait
//     (Waiting events say what it waits for); else the server fails with
//     cause k3s-not-ready. A role: server node without k3s is not gated.
//   - An agent with k3s_token_file gets, right before its activation
//     (deploy's BeforeActivate), the server's agent-token, else its
//     node-token, read once per run over SSH from the first server that
//     answered. Its K10<hash> part must be the SHA-256 of the server's
//     /cacerts bytes (or of a CA certificate's DER, for a custom CA), as a
//     joining agent checks (k3s-io/docs cli/token.md); a short token or a
//     mismatch fails the agent (cause k3s-token) with nothing sent or
//     activated. The token goes on the agent's stdin, never on a command
//     line, and is written as PATH.jetup-new (umask 077, chmod 600) renamed
//     over PATH. It is held in memory only: no event, log or record has it.
//   - At most MaxJoins (10) agents activate, and so join, at once. Event
//     "join" says when an agent waits for a slot, holds one ("joining",
//     emitted once held) and gives it back ("released", emitted before it
//     is free): no more than MaxJoins are ever between the two.
//   - After the last phase, `k3s kubectl get nodes -o json` on the server,
//     until every k3s node that ended well is listed (matched by its
//     InternalIP = host, else hostname, else name) and Ready, and those
//     with a Jetson profile have allocatable nvidia.com/gpu > 0, or --wait
//     has passed: Record.Cluster (event "cluster"); not OK is exit 1.
//
// Through a binary cache (--cache URL): after the build, this machine runs
// one `nix copy --to` of every distinct system (to --cache-to when it
// writes the cache elsewhere than the nodes read it; compression=zstd
// added to a file/http(s)/s3 URL naming none, as Nix's default xz is
// slow to set up per path), event "cache", at nice 10 (nixrun's
// Background: the nodes' ssh sessions go first). It runs while the first
// phase's nodes connect and pass preflight; each node waits for it right
// before its fetch (deploy.Cache.Ready). Its progress is event
// "cache-progress" (nix's internal-json log through deploy's copy
// tracker); a node's fetch reports deploy's "copy" progress from the
// paths nix on the board says it starts, so its row has BYTES. Then
// each node's push has the node run `nix copy --from URL --option
// trusted-public-keys KEYS --option substituters ""` itself (deploy's
// "fetch"), the keys being --cache-key and the public half of --cache-to's
// secret-key= (derived here: a Nix secret key is NAME:BASE64 of an
// ed25519 seed and public half). nix's words name the cause per node:
// cache-unreachable, cache-missing-path, cache-untrusted, cache-failed.
// A failed upload fails every node waiting to fetch and every later one
// (cause cache-upload), with nothing fetched or activated.
//
// fleet is an orchestrator: the one domain package allowed to import step
// packages (deploy, verify), because running them in order on many boards
// is its whole job. The steps never import it.
//
// # In detail
//
// fleet: many machines in phases from one inventory. inventory.go and
// node.go read `fleet.yaml` (JSON through the same go.yaml.in/yaml/v3 node
// tree) into `Inventory`/`Node` and report every problem at its file:line
// (unknown keys, a node in two phases or none, one address for two nodes, a
// missing or unbuilt system, a token taken from no earlier server); the
// seeds' `targetHost`/`deploymentOrder` (and colmena's
// `targetUser`/`targetPort`) are read as `host`/`phases`. A `.nix` inventory
// is `nix eval --json --file` through the Nix runner, its `--apply` adding
// `builtins.unsafeGetAttrPos` for each node and field so its problems have
// lines too (nixinventory.go). Node names go through `safe.Name` (they name
// run records), hosts and users through remote's `CheckHost`/`CheckUser`;
// relative flakes and paths are relative to the inventory. A new node field
// is one entry in `nodeKeys`, a field on `Node` and its check. update.go is
// issue 19's `update:` (instead of `system:`): a sysupdate directory (it
// must hold SHA256SUMS) or a .swu (it must begin with cpio's new-ASCII
// magic, 070701 or 070702), kind in `Node.UpdateKind`; `Pushable` refuses a
// selection holding one until the push path applies it (image.Update per
// node), and export leaves such nodes out (`Exported.Updates`). export.go hands the fleet on: a colmena hive
// (deployment.targetHost/Port/User, tags from labels and role; a flake node
// imports its configuration's modules, a built closure carries an assertion
// that stops colmena on it) or deploy-rs nodes (`activate.nixos`, or
// `activate.custom` of the closure), with the keys jetup pinned written as a
// known_hosts file the output points ssh at (sshOpts; colmena through an ssh
// config and `SSH_CONFIG_FILE`). An orchestrator: imports `deploy` and
// `verify` (and `remote`, `nixrun`, `profiles`, `runrec`, `safe`, `step`).
//
// `Push` (push.go) is the fleet run: build.go builds each distinct system of
// the selected nodes once through deploy's Nix edge (progress as
// `SystemBuild`); the phases run in order, at most `Parallel` nodes at once;
// noderun.go is one node: its own run record (`runrec.Options.Name` is the
// node's name) with a push step (`deploy.Push`, with `SkipIfCurrent` unless
// the last fleet.json recorded the node failed, and `BeforeActivate` for
// what must happen right before activation) and a verify step (`verify.Run`:
// the profile's checks, else booted-system and failed-units). Every state
// change rewrites fleet.json (record.go) and emits a `NodeStatus` (the fleet
// screen's row); the nodes' own events come through as `NodeLine`.
// `Record.exitCode` is the one rule for the exit status.
package fleet
