package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/jetup/jetup/step"
)

// A bundle file is, byte for byte:
//
//	the sh script (padded to ScriptSize)
//	the tar's header members: jetup-bundle/header/ (a binary cache of the
//	  signed header path), HeaderSize bytes, no end-of-archive
//	the tar's body: base-manifest.json.zst, target, SHA256SUMS, cache/ (the
//	  zstd binary cache: nix-cache-info, narinfos, nar/, delta/), and the
//	  end-of-archive blocks
//
// so `tail -c +ScriptSize+1 FILE | tar -x` unpacks it all. The header
// lists the SHA-256 of every byte of the body by part: with --split, part
// k is the bytes of FILE.part<k> (the first part's after the header); the
// first part is made shorter by the script and header, so that every part
// file is at most the split size.

// assemble writes the bundle file (or its parts).
func (w *writer) assemble(ctx context.Context, out string) (*Result, error) {
	w.phase("write", "signing the header and writing %s", out)
	root := filepath.Join(w.stage, "jetup-bundle")
	// The manifest is for people and other tools (zstd -d reads it); the
	// board checks what it builds on itself.
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err := os.WriteFile(filepath.Join(root, "base-manifest.json.zst"), enc.EncodeAll(w.baseRaw, nil), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "target"), []byte(w.target+"\n"), 0o644); err != nil {
		return nil, err
	}
	files, err := bodyFiles(root)
	if err != nil {
		return nil, err
	}
	sums, unpacked, err := sha256Sums(root, append([]string{"base-manifest.json.zst", "target"}, files...))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "SHA256SUMS"), sums, 0o644); err != nil {
		return nil, err
	}
	files = append([]string{"base-manifest.json.zst", "target", "SHA256SUMS"}, files...)
	bodyPath := filepath.Join(w.stage, "body.tar")
	if err := writeTar(bodyPath, root, files); err != nil {
		return nil, err
	}
	body, err := os.Open(bodyPath)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	st, err := body.Stat()
	if err != nil {
		return nil, err
	}
	bodySize := st.Size()

	h := &Header{Format: HeaderFormat, Sequence: w.sequence, Board: w.board, Target: w.target, Profile: w.profile(),
		System: w.system, BaseManifest: ManifestHash(w.baseRaw), SplitSize: w.o.Split,
		FileSize: unpacked + int64(len(sums)), Made: time.Now().UTC().Format(time.RFC3339), Deltas: w.deltas, Bases: w.baseRefs(), Decoder: w.decoder}
	for _, in := range w.send {
		h.Paths = append(h.Paths, in.Path)
		h.NarSize += in.NarSize
	}
	banner := w.banner(h)

	// The script, header and parts depend on each other's sizes: guess the
	// body's offset, lay the parts out from it, sign, and pad the script up
	// to the guess; when they do not fit, guess bigger.
	offset := int64(len(BundleScript(Vars{}, banner))) + 2048
	var script string
	var headerTar []byte
	tries := 0
	for try := 0; ; try++ {
		tries++
		offset = (offset + 511) / 512 * 512
		if w.o.Split > 0 && offset >= w.o.Split {
			return nil, step.Refuse("usage", "pass a larger --split", "--split %d leaves no room after the %d bytes of script and header", w.o.Split, offset)
		}
		h.Parts, err = layParts(body, offset, bodySize, w.o.Split)
		if err != nil {
			return nil, err
		}
		h.TotalSize = offset + bodySize
		// HeaderSize and ScriptSize are in the signed text too: the header's
		// own size is known only once it is signed, so it is computed with
		// its final numbers and must come out the same.
		h.HeaderSize = 0
		for i := 0; i < 3; i++ {
			h.ScriptSize = offset - h.HeaderSize
			headerTar, err = w.signHeader(h)
			if err != nil {
				return nil, err
			}
			if int64(len(headerTar)) == h.HeaderSize {
				break
			}
			h.HeaderSize = int64(len(headerTar))
		}
		v := Vars{Format: h.Format, Sequence: h.Sequence, Board: h.Board, Target: h.Target, Profile: h.Profile,
			HeaderPath: headerPath(h), ScriptSize: h.ScriptSize, HeaderSize: h.HeaderSize, TotalSize: h.TotalSize, SplitSize: h.SplitSize}
		script = BundleScript(v, banner)
		if int64(len(headerTar)) == h.HeaderSize && int64(len(script)) == h.ScriptSize {
			break
		}
		if try == 5 {
			return nil, fmt.Errorf("the bundle's layout did not settle (script %d, header %d bytes)", len(script), len(headerTar))
		}
		offset = int64(len(script)) + int64(len(headerTar)) + 512
	}
	res := &Result{Event: "result", File: out, Board: w.board, Hostname: w.base.Hostname, Sequence: w.sequence, Target: w.target,
		Profile: w.profile(), BaseManifest: h.BaseManifest, Paths: len(w.send), Deltas: len(w.deltas), Decoder: w.decoder, ClosurePaths: len(w.closure),
		Bytes: h.TotalSize, NarBytes: h.NarSize, PublicKey: w.key.public}
	for _, in := range w.closure {
		res.ClosureBytes += in.NarSize
	}
	fmt.Fprintf(w.log, "%.2fs laid out in %d tries: script %d, header %d, body %d bytes\n", time.Since(w.started).Seconds(), tries, len(script), len(headerTar), bodySize)
	prefix := io.MultiReader(strings.NewReader(script), bytes.NewReader(headerTar))
	whole := io.MultiReader(prefix, io.NewSectionReader(body, 0, bodySize))
	if w.o.Split == 0 {
		return res, writeAtomic(out, whole)
	}
	res.Parts, res.SumsFile, err = writeParts(out, whole, h.TotalSize, w.o.Split)
	res.File = ""
	return res, err
}

func (w *writer) banner(h *Header) string {
	return fmt.Sprintf(`jetup offline bundle %d for board %s (%s)
  target:  %s
  profile: %s
  %d paths, %s of NAR, %d as binary deltas; made %s
On the board, as root:
  sh THIS --check      check it against this board, change nothing
  sh THIS --switch     import, switch, health check; roll back if it fails
  sh THIS --boot       import and make it the next boot's system
  sh THIS --manifest   print this board's manifest, to send home
  sh THIS --help       the options
Exit status: 0 done, 1 failed (rolled back), 2 refused before any change.`,
		h.Sequence, h.Board, orDash(w.base.Hostname), h.Target, h.Profile, len(h.Paths), MiB(h.NarSize), len(h.Deltas), h.Made)
}

// bodyFiles lists the cache's files in the order the tar holds them:
// small narinfos first, then the NARs and deltas.
func bodyFiles(root string) ([]string, error) {
	var infos, nars []string
	err := filepath.WalkDir(filepath.Join(root, "cache"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.Contains(rel, "/nar/") || strings.Contains(rel, "/delta/") {
			nars = append(nars, rel)
		} else {
			infos = append(infos, rel)
		}
		return nil
	})
	sort.Strings(infos)
	sort.Strings(nars)
	return append(infos, nars...), err
}

// sha256Sums is SHA256SUMS (sha256sum's format) for files, and their size.
func sha256Sums(root string, files []string) ([]byte, int64, error) {
	var b bytes.Buffer
	var total int64
	for _, f := range files {
		fd, err := os.Open(filepath.Join(root, f))
		if err != nil {
			return nil, 0, err
		}
		h := sha256.New()
		n, err := io.Copy(h, fd)
		fd.Close()
		if err != nil {
			return nil, 0, err
		}
		total += n
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), f)
	}
	return b.Bytes(), total, nil
}

// tarHeader is a member's header: no owner, no time, so the same bundle
// is the same bytes.
func tarHeader(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
}

// writeTar writes files (relative to root) as members jetup-bundle/<f>.
func writeTar(path, root string, files []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, name := range files {
		src, err := os.Open(filepath.Join(root, name))
		if err != nil {
			return err
		}
		st, err := src.Stat()
		if err == nil {
			err = tw.WriteHeader(tarHeader("jetup-bundle/"+name, st.Size()))
		}
		if err == nil {
			_, err = io.Copy(tw, src)
		}
		src.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// layParts cuts the body (at offset in the bundle) into parts and hashes
// each: one without a split size; else the first part ends at the split
// size, each next one a split size later.
func layParts(body *os.File, offset, size, split int64) ([]Part, error) {
	var parts []Part
	start := offset
	for k := 0; start < offset+size || k == 0; k++ {
		end := offset + size
		if split > 0 {
			end = min(end, int64(k+1)*split)
		}
		sum, err := sha256Hex(body, start-offset, end-start)
		if err != nil {
			return nil, err
		}
		parts = append(parts, Part{Index: k, Start: start, Size: end - start, SHA256: sum})
		start = end
	}
	return parts, nil
}

// signHeader signs the header's binary cache and returns its tar members
// (no end-of-archive).
func (w *writer) signHeader(h *Header) ([]byte, error) {
	secret, err := w.key.readSecret()
	if err != nil {
		return nil, step.Errorf("sign-failed", "check that the key file is a Nix secret key (nix key generate-secret)", "%v", err)
	}
	niName, ni, narName, nar := headerCache(headerPath(h), h.Text(), secret)
	files := map[string][]byte{"nix-cache-info": []byte("StoreDir: /nix/store\n"), niName: ni, narName: nar}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, name := range []string{"nix-cache-info", niName, narName} {
		if err := tw.WriteHeader(tarHeader("jetup-bundle/header/"+name, int64(len(files[name])))); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeAtomic writes r to path through a temporary file.
func writeAtomic(path string, r io.Reader) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return step.Refuse("bad-output", "pass -o with a file in a directory you can write", "%v", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return step.Errorf("bad-output", "check the free space where the bundle goes", "writing %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// writeParts writes FILE.part000... of split bytes each and FILE.sha256
// (sha256sum -c's format), removing a FILE of an earlier run.
func writeParts(out string, r io.Reader, total, split int64) ([]string, string, error) {
	var parts []string
	var sums bytes.Buffer
	for k := 0; int64(k)*split < total; k++ {
		name := fmt.Sprintf("%s.part%03d", out, k)
		h := sha256.New()
		if err := writeAtomic(name, io.TeeReader(io.LimitReader(r, split), h)); err != nil {
			return nil, "", err
		}
		parts = append(parts, name)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.Base(name))
	}
	for k := len(parts); ; k++ { // parts of an earlier, longer bundle
		if os.Remove(fmt.Sprintf("%s.part%03d", out, k)) != nil {
			break
		}
	}
	os.Remove(out)
	sumsFile := out + ".sha256"
	return parts, sumsFile, writeAtomic(sumsFile, &sums)
}
