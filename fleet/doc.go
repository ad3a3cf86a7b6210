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
// fleet is an orchestrator: the one domain package allowed to import step
// packages (deploy, verify), because running them in order on many boards
// is its whole job. The steps never import it.
package fleet
