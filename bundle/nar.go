package bundle

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// writeNAR writes the NAR serialisation of the file tree at path, as
// `nix-store --dump` does (Eelco Dolstra's thesis, fig. 5.2; Nix's
// src/libutil/archive.cc): a regular file with its executable bit, a
// symlink with its target, a directory with its entries sorted by name.
// The bundle dumps two NARs per delta; one nix process each cost more CPU
// than the rest of making the delta. The caller checks the result against
// the path's NarHash, and falls back to nix when it differs.
func writeNAR(w io.Writer, path string) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	n := narWriter{w: bw}
	n.str("nix-archive-1")
	if err := n.node(path); err != nil {
		return err
	}
	if n.err != nil {
		return n.err
	}
	return bw.Flush()
}

type narWriter struct {
	w   *bufio.Writer
	err error
}

func (n *narWriter) str(s string) { n.bytes([]byte(s)) }

func (n *narWriter) bytes(b []byte) {
	n.header(int64(len(b)))
	n.write(b)
	n.pad(int64(len(b)))
}

func (n *narWriter) header(size int64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(size))
	n.write(b[:])
}

func (n *narWriter) pad(size int64) {
	if p := (8 - size%8) % 8; p > 0 {
		n.write(make([]byte, p))
	}
}

func (n *narWriter) write(b []byte) {
	if n.err == nil {
		_, n.err = n.w.Write(b)
	}
}

func (n *narWriter) node(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	n.str("(")
	n.str("type")
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return err
		}
		n.str("symlink")
		n.str("target")
		n.str(target)
	case fi.Mode().IsRegular():
		n.str("regular")
		if fi.Mode()&0o100 != 0 {
			n.str("executable")
			n.str("")
		}
		n.str("contents")
		if err := n.contents(path, fi.Size()); err != nil {
			return err
		}
	case fi.IsDir():
		n.str("directory")
		ents, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		names := make([]string, len(ents))
		for i, e := range ents {
			names[i] = e.Name()
		}
		sort.Strings(names) // byte order, as Nix sorts
		for _, name := range names {
			n.str("entry")
			n.str("(")
			n.str("name")
			n.str(name)
			n.str("node")
			if err := n.node(filepath.Join(path, name)); err != nil {
				return err
			}
			n.str(")")
		}
	default:
		return fmt.Errorf("%s: a %s cannot be in a NAR", path, fi.Mode().Type())
	}
	n.str(")")
	return n.err
}

func (n *narWriter) contents(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n.header(size)
	if n.err != nil {
		return n.err
	}
	if got, err := io.Copy(n.w, io.LimitReader(f, size)); err != nil || got != size {
		return fmt.Errorf("%s: read %d of %d bytes: %v", path, got, size, err)
	}
	n.pad(size)
	return nil
}

// dumpChecked writes path's NAR to file and returns whether its hash is
// want (the NarHash the store records).
func dumpChecked(path, file string, want NarHash) (bool, error) {
	f, err := os.Create(file)
	if err != nil {
		return false, err
	}
	h := sha256.New()
	err = writeNAR(io.MultiWriter(f, h), path)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, err
	}
	var got NarHash
	copy(got[:], h.Sum(nil))
	return got == want, nil
}
