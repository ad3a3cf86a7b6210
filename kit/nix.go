package kit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jetup/jetup/nixrun"
)

// The nix calls of a kit, each through the run's Nix runner. Shapes are
// Nix 2.8's (Debian's nix-bin, measured here), read tolerantly for newer
// ones.

// bigStdout is the stdout bound for answers that list closures.
const bigStdout = 64 << 20

// metadata is `nix flake metadata --json FLAKE`: the flake's lock.
//
//	{"locked":{"narHash":"sha256-…","rev":"…","lastModified":…,…},
//	 "url":"path:/x?lastModified=…&narHash=…","revision":"…","path":"/nix/store/…-source",…}
func metadata(ctx context.Context, nx *nixrun.Nix, flake string, raw io.Writer) (*Lock, error) {
	out, err := nx.Run(ctx, nixrun.Call{Args: []string{"flake", "metadata", "--json", flake}, Log: nixrun.Watch{Raw: raw}})
	if err != nil {
		return nil, err
	}
	var m struct {
		URL          string `json:"url"`
		Revision     string `json:"revision"`
		LastModified int64  `json:"lastModified"`
		Locked       struct {
			NarHash      string `json:"narHash"`
			Rev          string `json:"rev"`
			LastModified int64  `json:"lastModified"`
		} `json:"locked"`
	}
	if err := json.Unmarshal(out, &m); err != nil || m.URL == "" {
		return nil, fmt.Errorf("nix flake metadata %s printed no locked url (%.200q)", flake, out)
	}
	l := &Lock{URL: m.URL, Revision: m.Revision, NarHash: m.Locked.NarHash, LastModified: m.LastModified}
	if l.Revision == "" {
		l.Revision = m.Locked.Rev
	}
	if l.LastModified == 0 {
		l.LastModified = m.Locked.LastModified
	}
	return l, nil
}

// archive is `nix flake archive --json FLAKE`: it fetches the flake and
// every input into the store and names them.
//
//	{"path":"/nix/store/…-source","inputs":{"nixpkgs":{"path":"…","inputs":{}}}}
func archive(ctx context.Context, nx *nixrun.Nix, flake string, raw io.Writer) ([]Source, error) {
	out, err := nx.Run(ctx, nixrun.Call{Args: []string{"flake", "archive", "--json", flake}, Log: nixrun.Watch{Raw: raw}, MaxStdout: bigStdout})
	if err != nil {
		return nil, err
	}
	type node struct {
		Path   string           `json:"path"`
		Inputs map[string]*node `json:"inputs"`
	}
	var top node
	if err := json.Unmarshal(out, &top); err != nil || !IsStorePath(top.Path) {
		return nil, fmt.Errorf("nix flake archive %s printed no source path (%.200q)", flake, out)
	}
	var srcs []Source
	seen := map[string]bool{}
	var walk func(prefix string, n *node, depth int)
	walk = func(prefix string, n *node, depth int) {
		if n == nil || depth > 32 || !IsStorePath(n.Path) || seen[n.Path] {
			return
		}
		seen[n.Path] = true
		srcs = append(srcs, Source{Input: prefix, StorePath: n.Path})
		names := make([]string, 0, len(n.Inputs))
		for k := range n.Inputs {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			walk(strings.TrimPrefix(prefix+"/"+k, "/"), n.Inputs[k], depth+1)
		}
	}
	walk("", &top, 0)
	return srcs, nil
}

// dryRun is `nix build --dry-run --json INSTALLABLES...`: each one's
// output path (stdout), and from the log what nix would fetch (its
// unpacked size) and how many derivations it would build:
//
//	these 3 paths will be fetched (1.20 MiB download, 4.50 MiB unpacked):
//	this derivation will be built:
func dryRun(ctx context.Context, nx *nixrun.Nix, installables []string, raw io.Writer) (outs []string, fetch int64, builds int, err error) {
	watch := nixrun.Watch{Raw: raw, Line: func(l nixrun.Line) {
		m := l.Message()
		if s := fetchLine.FindStringSubmatch(m); s != nil {
			fetch += parseSize(s[1], s[2])
		}
		if s := buildLine.FindStringSubmatch(m); s != nil {
			n := 1
			if s[1] != "" {
				n, _ = strconv.Atoi(s[1])
			}
			builds += n
		}
	}}
	args := append([]string{"build", "--dry-run", "--json", "--log-format", "internal-json"}, installables...)
	out, err := nx.Run(ctx, nixrun.Call{Args: args, Log: watch, MaxStdout: bigStdout})
	if err != nil {
		return nil, 0, 0, err
	}
	var res []struct {
		Path    string            `json:"path"`
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(installables) {
		return nil, 0, 0, fmt.Errorf("nix build --dry-run printed %d results for %d installables (%.200q)", len(res), len(installables), out)
	}
	for _, r := range res {
		p := r.Path
		if p == "" {
			p = r.Outputs["out"]
		}
		outs = append(outs, p)
	}
	return outs, fetch, builds, nil
}

var (
	fetchLine = regexp.MustCompile(`will be fetched \([\d.]+ [KMGT]?i?B download, ([\d.]+) ([KMGT]?i?B) unpacked\)`)
	buildLine = regexp.MustCompile(`^(?:these (\d+) derivations|this derivation) will be built`)
)

func parseSize(num, unit string) int64 {
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[unit]
	return int64(f * mult)
}

// pathInfo is one entry of `nix path-info --json`.
type pathInfo struct {
	Path        string `json:"path"`
	Valid       *bool  `json:"valid"` // false for a path not in the store; absent when valid
	NarSize     int64  `json:"narSize"`
	ClosureSize int64  `json:"closureSize"`
}

// pathInfos is `nix path-info --json [-r] [-S] PATHS` against this
// machine's store only. Nix 2.8 prints an array; newer ones an object
// keyed by path (null for an invalid one): both are read.
func pathInfos(ctx context.Context, nx *nixrun.Nix, paths []string, recursive bool) ([]pathInfo, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	args := []string{"path-info", "--json", "-S"}
	if recursive {
		args = append(args, "-r")
	}
	out, err := nx.Run(ctx, nixrun.Call{Args: append(args, paths...), Local: true, MaxStdout: bigStdout})
	if err != nil {
		return nil, err
	}
	var list []pathInfo
	if json.Unmarshal(out, &list) == nil {
		return list, nil
	}
	var byPath map[string]*pathInfo
	if err := json.Unmarshal(out, &byPath); err != nil {
		return nil, fmt.Errorf("nix path-info printed neither a list nor an object (%.200q)", out)
	}
	for p, info := range byPath {
		if info == nil {
			f := false
			list = append(list, pathInfo{Path: p, Valid: &f})
			continue
		}
		info.Path = p
		list = append(list, *info)
	}
	return list, nil
}

func (p pathInfo) valid() bool { return p.Valid == nil || *p.Valid }

// pin makes link a GC root for path: `nix build PATH --out-link LINK`.
// nix replaces the link atomically and registers it in
// /nix/var/nix/gcroots/auto (an indirect root), so moving or deleting the
// link unpins the path and nothing else can.
func pin(ctx context.Context, nx *nixrun.Nix, link string, paths ...string) error {
	args := append([]string{"build", "--out-link", link}, paths...)
	_, err := nx.Run(ctx, nixrun.Call{Args: args, Local: true})
	return err
}

// addFile is `nix store add-file --name NAME FILE`: an image put in the
// store as a fixed-output path, so a kit can pin it.
func addFile(ctx context.Context, nx *nixrun.Nix, file, name string, raw io.Writer) (string, error) {
	out, err := nx.Run(ctx, nixrun.Call{Args: []string{"store", "add-file", "--name", name, file}, Log: nixrun.Watch{Raw: raw}})
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(out))
	if !IsStorePath(p) {
		return "", fmt.Errorf("nix store add-file printed no store path (%.200q)", out)
	}
	return p, nil
}
