package fleet

import (
	"context"
	"encoding/json"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/jetup/jetup/nixrun"
)

// A Nix inventory is evaluated with `nix eval --json --file`, so a flake's
// deploy configuration (or anything Nix can compute) can be the
// inventory. The --apply wraps the value with where each node and each of
// its fields is written (builtins.unsafeGetAttrPos, what Nix's own error
// messages use), so its problems are reported at file:line like a YAML
// inventory's. Attributes Nix computed have no position: their problems
// name the node's.
const nixPositions = `v:
let
  attrsOr = x: if builtins.isAttrs x then x else { };
  at = set: name: let p = builtins.unsafeGetAttrPos name set; in if p == null then null else { inherit (p) file line; };
  top = attrsOr v;
  nodes = attrsOr (top.nodes or { });
in {
  value = v;
  top = builtins.mapAttrs (n: _: at top n) top;
  nodes = builtins.mapAttrs (n: node: { self = at nodes n; fields = builtins.mapAttrs (f: _: at (attrsOr node) f) (attrsOr node); }) nodes;
}`

// nixEvaluated is what nixPositions gives.
type nixEvaluated struct {
	Value json.RawMessage `json:"value"`
	Top   map[string]*pos `json:"top"`
	Nodes map[string]struct {
		Self   *pos            `json:"self"`
		Fields map[string]*pos `json:"fields"`
	} `json:"nodes"`
}

func loadNix(ctx context.Context, file string, o LoadOptions) (*Inventory, error) {
	out, err := o.Nix.Run(ctx, nixrun.Call{Args: []string{"eval", "--json", "--file", file, "--apply", nixPositions},
		MaxStdout: maxInventory})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, Errors{{File: file, Msg: "nix eval --json --file failed: " + nixrun.ReasonOf(err)}}
	}
	var ev nixEvaluated
	if err := json.Unmarshal(out, &ev); err != nil {
		return nil, Errors{{File: file, Msg: "nix eval printed what is not JSON: " + err.Error()}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(ev.Value, &doc); err != nil || len(doc.Content) == 0 {
		return nil, Errors{{File: file, Msg: "the evaluated inventory is not an attribute set with nodes and phases"}}
	}
	r := &reader{file: file, dir: filepath.Dir(file), o: o, at: map[string]pos{}}
	put := func(path string, p *pos) {
		if p != nil && p.Line > 0 {
			r.at[path] = *p
		}
	}
	for k, p := range ev.Top {
		put(k, p)
	}
	for name, n := range ev.Nodes {
		put("nodes."+name, n.Self)
		for f, p := range n.Fields {
			put("nodes."+name+"."+f, p)
		}
	}
	return r.read("nix", doc.Content[0])
}
