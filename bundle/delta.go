package bundle

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jetup/jetup/nixrun"
)

// Binary deltas: most new paths of a small change are a rebuilt dependent
// that differs from a path the board has only in a few store references,
// or a new version of a package the board has. For such a path the bundle
// may carry, instead of its zstd NAR, a zstd patch (--patch-from, a long
// window) against the NAR of the board's own old path, whichever is
// smaller. The board rebuilds the NAR from its copy of the old path, checks
// it against the NarHash of the path's signed narinfo, and only then
// imports it. Only a board whose manifest names a decoder gets deltas, or
// one the bundle ships the decoder to (--decoder).

// pname is a store path's name without its version: Nix's own rule
// (parseDrvName) splits at the first "-" followed by a digit.
func pname(name string) string {
	for i := 0; i+1 < len(name); i++ {
		if name[i] == '-' && name[i+1] >= '0' && name[i+1] <= '9' {
			return name[:i]
		}
	}
	return name
}

// minDelta is the smallest NAR worth a delta: below it the zstd frame and
// the board's work cost more than they save.
const minDelta = 4 << 10

// deltaBases picks, for each path to send, the board's path to patch
// against: the same name first (a rebuilt dependent), else the same name
// without version, the closest in size. The base must be in this
// machine's store with the NAR hash the board has, or the patch would not
// rebuild the board's NAR.
func (w *writer) deltaBases(ctx context.Context) (map[string]string, error) {
	byName := map[string][]Path{}
	for _, p := range w.base.Paths {
		n := pname(NameOf(p.Path))
		byName[n] = append(byName[n], p)
	}
	want := map[string]string{}
	for _, in := range w.send {
		// The decoder travels whole: the board needs it to decode the rest.
		if in.NarSize < minDelta || in.Path == w.decoder {
			continue
		}
		name := NameOf(in.Path)
		cands := byName[pname(name)]
		if len(cands) == 0 {
			continue
		}
		sort.SliceStable(cands, func(i, j int) bool {
			si, sj := NameOf(cands[i].Path) == name, NameOf(cands[j].Path) == name
			if si != sj {
				return si
			}
			return abs(cands[i].NarSize-in.NarSize) < abs(cands[j].NarSize-in.NarSize)
		})
		want[in.Path] = cands[0].Path
	}
	if len(want) == 0 {
		return nil, nil
	}
	olds := map[string]bool{}
	for _, o := range want {
		olds[o] = true
	}
	// One path-info for all of them; a path this machine lacks is left out
	// of its answer (2.8 fails on it, so ask with --json per validity).
	out, err := w.edge.Nix.Run(ctx, nixrun.Call{Args: append([]string{"path-info", "--json"}, keys(olds)...), MaxStdout: 64 << 20, Log: nixrun.Watch{Raw: w.log}})
	here := map[string]Info{}
	if err == nil {
		here, _ = parsePathInfo(out)
	} else {
		for o := range olds { // some are missing here: ask one by one
			if b, err := w.edge.Nix.Run(ctx, nixrun.Call{Args: []string{"path-info", "--json", o}, Log: nixrun.Watch{Raw: w.log}}); err == nil {
				if m, err := parsePathInfo(b); err == nil {
					for k, v := range m {
						here[k] = v
					}
				}
			}
		}
	}
	for p, o := range want {
		board, _ := w.base.Get(o)
		if in, ok := here[o]; !ok || in.NarHash != board.NarHash {
			delete(want, p)
		}
	}
	return want, nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// makeDeltas replaces each NAR with its delta where that is smaller.
func (w *writer) makeDeltas(ctx context.Context) error {
	if w.o.NoDeltas || (w.base.Decoder == "" && w.decoder == "") || len(w.send) == 0 {
		return nil
	}
	if !w.zstdCLI {
		fmt.Fprintln(w.log, "no zstd on this machine: whole NARs only")
		return nil
	}
	bases, err := w.deltaBases(ctx)
	if err != nil || len(bases) == 0 {
		return err
	}
	w.phase("delta", "binary deltas for %d paths against the board's own", len(bases))
	cache := filepath.Join(w.stage, "jetup-bundle", "cache")
	if err := os.MkdirAll(filepath.Join(cache, "delta"), 0o755); err != nil {
		return err
	}
	type job struct{ path, base string }
	jobs := make(chan job)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := range jobs {
				d, err := w.delta(ctx, cache, j.path, j.base, i)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if d {
					w.deltas = append(w.deltas, Delta{Path: j.path, Base: j.base})
				}
				mu.Unlock()
			}
		}(i)
	}
	for _, p := range keys(bases) {
		jobs <- job{p, bases[p]}
	}
	close(jobs)
	wg.Wait()
	sort.Slice(w.deltas, func(i, j int) bool { return w.deltas[i].Path < w.deltas[j].Path })
	fmt.Fprintf(w.log, "%d of %d paths go as deltas\n", len(w.deltas), len(bases))
	return firstErr
}

// sureDelta: a patch under this fraction of its NAR is taken without
// compressing the NAR to compare (no binary compresses 20 times); above
// it, the NAR is compressed and the smaller is sent.
const sureDelta = 20

// delta makes path's patch against base and keeps it when it is smaller
// than the path's compressed NAR. The new NAR is the one nix copy wrote
// into the cache, uncompressed; the old one jetup writes.
func (w *writer) delta(ctx context.Context, cache, path, base string, slot int) (bool, error) {
	url, _, err := narinfoFile(filepath.Join(cache, HashPart(path)+".narinfo"))
	if err != nil {
		return false, err
	}
	newNar := filepath.Join(cache, url)
	tmp := filepath.Join(w.stage, fmt.Sprintf("delta-%d", slot))
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	oldNar := filepath.Join(tmp, "old.nar")
	old, _ := w.base.Get(base) // deltaBases checked this machine has it with the same hash
	if ok, err := dumpChecked(base, oldNar, old.NarHash); !ok || err != nil {
		fmt.Fprintf(w.log, "the NAR of %s written here is not the store's (%v): nix store dump-path writes it\n", base, err)
		if err := w.dump(ctx, base, oldNar); err != nil {
			return false, err
		}
	}
	out := filepath.Join(cache, "delta", HashPart(path)+".zst")
	cmd := w.edge.Runner.Command(ctx, "zstd", append(levelArgs(w.o.Level), "-q", "-f", "--long=31", "--patch-from="+oldNar, newNar, "-o", out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		fmt.Fprintf(w.log, "zstd --patch-from for %s failed (%v): %s; sending the whole NAR\n", path, err, b)
		os.Remove(out)
		return false, nil
	}
	st, err := os.Stat(out)
	if err != nil {
		return false, err
	}
	size, narSize := st.Size(), w.closure[path].NarSize
	if size*sureDelta <= narSize {
		fmt.Fprintf(w.log, "delta %s against %s: %d bytes, the NAR %d\n", NameOf(path), NameOf(base), size, narSize)
		return true, os.Remove(newNar)
	}
	zsize, err := w.compressNAR(ctx, cache, path)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w.log, "delta %s against %s: %d bytes, the zstd NAR %d\n", NameOf(path), NameOf(base), size, zsize)
	if size >= zsize {
		return false, os.Remove(out)
	}
	url, _, err = narinfoFile(filepath.Join(cache, HashPart(path)+".narinfo"))
	if err != nil {
		return false, err
	}
	return true, os.Remove(filepath.Join(cache, url))
}

// levelArgs is zstd's flag for a level (above 19 it wants --ultra).
func levelArgs(level int) []string {
	if level > 19 {
		return []string{"--ultra", fmt.Sprintf("-%d", level)}
	}
	return []string{fmt.Sprintf("-%d", level)}
}

// compress compresses, two at a time, the NARs nix copy wrote as they are
// (all but those sent as deltas, and those compressed to be compared with
// theirs).
func (w *writer) compress(ctx context.Context) error {
	if !w.zstdCLI || len(w.send) == 0 {
		return nil
	}
	cache := filepath.Join(w.stage, "jetup-bundle", "cache")
	delta := map[string]bool{}
	for _, d := range w.deltas {
		delta[d.Path] = true
	}
	var todo []string
	for _, in := range w.send {
		if !delta[in.Path] {
			todo = append(todo, in.Path)
		}
	}
	w.phase("compress", "compressing %d NARs, zstd level %d", len(todo), w.o.Level)
	jobs := make(chan string)
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			var first error
			for p := range jobs {
				if first == nil {
					_, first = w.compressNAR(ctx, cache, p)
				}
			}
			errs <- first
		}()
	}
	for _, p := range todo {
		jobs <- p
	}
	close(jobs)
	return errors.Join(<-errs, <-errs)
}

// compressNAR compresses path's NAR in the cache with zstd (no long
// window: nix decompresses it with its defaults) and points its narinfo at
// the result: URL, Compression, FileHash, FileSize. Nix's signature does
// not cover those (its fingerprint is path, NAR hash, size, references).
// A NAR compressed already is left as it is.
func (w *writer) compressNAR(ctx context.Context, cache, path string) (int64, error) {
	ni := filepath.Join(cache, HashPart(path)+".narinfo")
	raw, err := os.ReadFile(ni)
	if err != nil {
		return 0, err
	}
	url, size, err := narinfoFile(ni)
	if err != nil || !strings.HasSuffix(url, ".nar") {
		return size, err
	}
	src := filepath.Join(cache, url)
	tmp := src + ".zst.tmp"
	cmd := w.edge.Runner.Command(ctx, "zstd", append(levelArgs(w.o.Level), "-q", "-f", src, "-o", tmp)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("zstd %s: %v: %s", src, err, b)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		return 0, err
	}
	sum := nix32(h.Sum(nil))
	newURL := "nar/" + sum + ".nar.zst"
	if err := os.Rename(tmp, filepath.Join(cache, newURL)); err != nil {
		return 0, err
	}
	if err := os.Remove(src); err != nil {
		return 0, err
	}
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		k, _, _ := strings.Cut(line, ": ")
		switch k {
		case "URL":
			line = "URL: " + newURL
		case "Compression":
			line = "Compression: zstd"
		case "FileHash":
			line = "FileHash: sha256:" + sum
		case "FileSize":
			line = fmt.Sprintf("FileSize: %d", n)
		}
		out.WriteString(line + "\n")
	}
	return n, os.WriteFile(ni, []byte(out.String()), 0o644)
}

// dump writes a path's NAR with nix store dump-path.
func (w *writer) dump(ctx context.Context, path, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := w.edge.Nix.Run(ctx, nixrun.Call{Args: []string{"store", "dump-path", path}, Stdout: f, Log: nixrun.Watch{Raw: w.log}}); err != nil {
		return fmt.Errorf("nix store dump-path %s: %v", path, nixrun.ReasonOf(err))
	}
	return f.Close()
}

var narinfoLine = regexp.MustCompile(`^(URL|FileSize): (.*)$`)

// narinfoFile reads a narinfo's URL and FileSize.
func narinfoFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	var url string
	var size int64 = -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := narinfoLine.FindStringSubmatch(sc.Text()); m != nil {
			if m[1] == "URL" {
				url = m[2]
			} else {
				size, _ = strconv.ParseInt(m[2], 10, 64)
			}
		}
	}
	if url == "" || size < 0 || strings.Contains(url, "..") || !strings.HasPrefix(url, "nar/") {
		return "", 0, fmt.Errorf("%s: no URL or FileSize", path)
	}
	return url, size, sc.Err()
}
