package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// Checksum is the SHA-256 the image must have, and where it came from.
type Checksum struct {
	Want string `json:"sha256"`
	// Source is "--sha256" or the sidecar file it was read from.
	Source string `json:"source"`
	// Of is what the hash covers: "file" (the file as it is), "image" (the
	// uncompressed image) or "" when unknown (--sha256: either may match).
	Of string `json:"of,omitempty"`
	// Matched is what it matched, once checked.
	Matched string `json:"matched,omitempty"`
	// fileSum is the SHA-256 of the file as the check read it: the write
	// hashes the file again as it reads it and must find the same.
	fileSum string
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// sumsFiles are the names a directory of images publishes its sums in.
var sumsFiles = []string{"SHA256SUMS", "SHA256SUMS.txt", "sha256sum.txt", "sha256sums.txt", "CHECKSUM"}

// FindChecksum returns the checksum from --sha256 (flag) or, when flag is
// empty, from a sidecar beside the image: IMAGE.sha256, the uncompressed
// name's .sha256, or an entry in SHA256SUMS. nil when there is none.
func FindChecksum(im *Image, flag string) (*Checksum, error) {
	if flag != "" {
		flag = strings.TrimPrefix(strings.TrimSpace(flag), "sha256:")
		if !hexSHA256.MatchString(flag) {
			return nil, step.Refuse("bad-sha256", "pass the 64 hex digits of the SHA-256 (sha256sum prints them)", "--sha256 %q is not a SHA-256", flag)
		}
		return &Checksum{Want: strings.ToLower(flag), Source: "--sha256"}, nil
	}
	dir, name := filepath.Dir(im.Path), im.Name
	plain := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".zst"), ".xz"), ".gz"), ".bz2")
	names := map[string]string{name: "file"}
	if plain != name {
		names[plain] = "image"
	}
	for _, n := range []string{name, plain} {
		for _, ext := range []string{".sha256", ".sha256sum"} {
			p := filepath.Join(dir, n+ext)
			if sum, ok := readSumFile(p, map[string]string{n: names[n], "": names[n]}); ok {
				return &Checksum{Want: sum.want, Source: p, Of: sum.of}, nil
			}
		}
	}
	for _, s := range sumsFiles {
		p := filepath.Join(dir, s)
		if sum, ok := readSumFile(p, names); ok {
			return &Checksum{Want: sum.want, Source: p, Of: sum.of}, nil
		}
	}
	return nil, nil
}

type sumEntry struct{ want, of string }

// Bounds of a sums file: SHA256SUMS files list thousands of files at most,
// each line a hash and a name.
const (
	maxSumFile = 64 << 20
	maxSumLine = 64 << 10
)

var bsdSum = regexp.MustCompile(`^SHA256 ?\((.+)\) ?= ?([0-9a-fA-F]{64})$`)

// readSumFile finds the entry for one of names in a sha256sum-style file
// ("HEX  name", "HEX *name", BSD "SHA256 (name) = HEX", or a bare "HEX"
// when "" is among names).
func readSumFile(path string, names map[string]string) (sumEntry, bool) {
	// A sums file is a few lines: one bigger than maxSumFile (or not a
	// file) is none. A line longer than any entry is cut and passed over
	// (a bufio.Scanner stopped at it, losing the entries after it).
	raw, err := safe.ReadFile(path, maxSumFile)
	if err != nil {
		return sumEntry{}, false
	}
	sc := proc.NewLineScanner(bytes.NewReader(raw), maxSumLine)
	for sc.Scan() {
		if sc.Cut() {
			continue
		}
		l := strings.TrimSpace(sc.Text())
		var sum, file string
		if m := bsdSum.FindStringSubmatch(l); m != nil {
			file, sum = m[1], m[2]
		} else {
			f := strings.Fields(l)
			if len(f) == 0 || !hexSHA256.MatchString(f[0]) {
				continue
			}
			sum = f[0]
			if len(f) > 1 {
				file = strings.TrimPrefix(strings.Join(f[1:], " "), "*")
			}
		}
		if of, ok := names[filepath.Base(file)]; ok {
			return sumEntry{want: strings.ToLower(sum), of: of}, true
		}
	}
	return sumEntry{}, false
}

// VerifyChecksum checks the image against c before anything is written: the
// file's own hash first (cheap), then, for a compressed image whose hash
// may be of the uncompressed data, a full decompression. A mismatch is a
// refusal (exit 2).
func VerifyChecksum(ctx context.Context, im *Image, c *Checksum, runner proc.Runner, sink step.Sink) error {
	if c.Of != "image" || im.Format == Raw {
		sum, err := hashReader(ctx, im, "checksum", sink, func(tee io.Writer) (io.ReadCloser, func() int64, error) {
			f, err := os.Open(im.Path)
			if err != nil {
				return nil, nil, err
			}
			cr := &countReader{r: f, tee: tee}
			return struct {
				io.Reader
				io.Closer
			}{cr, f}, cr.n.Load, nil
		})
		if err != nil {
			return err
		}
		c.fileSum = sum
		if sum == c.Want {
			c.Matched = "file"
			if im.Format == Raw {
				c.Matched = "image"
			}
			return nil
		}
		if c.Of == "file" || im.Format == Raw {
			return mismatch(im, c, sum)
		}
	}
	// The file's own hash comes along at little cost when it was not
	// taken above.
	var file *fileDigest
	var tee io.Writer
	if c.fileSum == "" {
		file = newFileDigest()
		defer file.Sum()
		tee = file
	}
	var st *Stream
	sum, err := hashReader(ctx, im, "checksum", sink, func(io.Writer) (io.ReadCloser, func() int64, error) {
		s, err := im.Open(ctx, runner, tee)
		if err != nil {
			return nil, nil, err
		}
		st = s
		return io.NopCloser(s), s.InDone, nil
	})
	if st != nil {
		defer st.Close()
	}
	if err != nil {
		return err
	}
	if file != nil && st.ReadRest() == nil {
		c.fileSum = file.Sum()
	}
	if sum != c.Want {
		return mismatch(im, c, sum)
	}
	c.Matched = "image"
	return nil
}

func mismatch(im *Image, c *Checksum, got string) error {
	return step.Refuse("checksum-mismatch",
		"the image is damaged or not the one the checksum is for: download or build it again (nothing was written)",
		"%s does not match its checksum from %s: want %s, got %s", im.Name, c.Source, c.Want, got)
}

// hashReader hashes what open returns, reporting progress by file bytes.
func hashReader(ctx context.Context, im *Image, phase string, sink step.Sink,
	open func(tee io.Writer) (io.ReadCloser, func() int64, error)) (string, error) {
	h := sha256.New()
	r, inDone, err := open(nil)
	if err != nil {
		return "", err
	}
	defer r.Close()
	buf := make([]byte, 1<<20)
	last := time.Now()
	start := last
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if time.Since(last) > 250*time.Millisecond {
			last = time.Now()
			done := inDone()
			sink.Emit(Progress{At: last, Phase: phase, Done: done, Total: im.FileSize,
				Rate: rate(done, last.Sub(start)), ETA: eta(done, im.FileSize, last.Sub(start))})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading %s for its checksum: %w", im.Name, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
