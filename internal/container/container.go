// Package container is the file format shared by model files and
// galleries: magic (8 bytes), format version (uint32), JSON header length
// (uint32), JSON header, float32 tensors (little endian), CRC-32 of all
// that. Files are written atomically (temp file, fsync, rename).
package container

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/siamesenet/siamese/internal/atomicfile"
)

// maxHeader bounds the JSON header. A file is read whole and its CRC
// checked before the header is looked at, so the bound is the format's,
// not a guard against allocation: a question index of 1,000,000 entries
// has a header of ~150 MB.
const maxHeader = 1 << 30

// ErrForeign is returned for a file whose magic is not the expected one.
var ErrForeign = errors.New("bad magic")

// Write writes header (JSON) and the tensors to path atomically.
func Write(path, magic string, version uint32, header []byte, tensors [][]float32) error {
	if len(magic) != 8 {
		panic("container: magic must be 8 bytes")
	}
	if len(header) > maxHeader {
		return fmt.Errorf("write %s: a header of %d MiB exceeds the format's %d MiB", path, len(header)>>20, maxHeader>>20)
	}
	return atomicfile.Write(path, 0o644, func(bw *bufio.Writer) error {
		crc := crc32.NewIEEE()
		w := io.MultiWriter(bw, crc)
		var pre [16]byte
		copy(pre[:8], magic)
		binary.LittleEndian.PutUint32(pre[8:], version)
		binary.LittleEndian.PutUint32(pre[12:], uint32(len(header)))
		if _, err := w.Write(pre[:]); err != nil {
			return err
		}
		if _, err := w.Write(header); err != nil {
			return err
		}
		buf := make([]byte, 0, 1<<16)
		for _, t := range tensors {
			for _, v := range t {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) == cap(buf) {
					if _, err := w.Write(buf); err != nil {
						return err
					}
					buf = buf[:0]
				}
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		var sum [4]byte
		binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
		_, err := bw.Write(sum[:])
		return err
	})
}

// File is a read container.
type File struct {
	Header []byte
	body   []byte
}

// Read reads and checks a container. Errors say what is wrong, without the
// path (callers add it).
func Read(path, magic string, version uint32) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 8 || string(data[:8]) != magic {
		return nil, ErrForeign
	}
	if len(data) < 20 {
		return nil, errors.New("file is truncated")
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != version {
		return nil, fmt.Errorf("format version %d, this build reads version %d", v, version)
	}
	if got, want := binary.LittleEndian.Uint32(data[len(data)-4:]), crc32.ChecksumIEEE(data[:len(data)-4]); got != want {
		return nil, errors.New("checksum mismatch: the file is truncated or corrupt")
	}
	n := binary.LittleEndian.Uint32(data[12:])
	if n > maxHeader || int(n) > len(data)-20 {
		return nil, errors.New("header length out of range: the file is truncated or corrupt")
	}
	return &File{Header: data[16 : 16+n], body: data[16+n : len(data)-4]}, nil
}

// Next reads the next tensor of n floats into dst (allocated if nil).
func (f *File) Next(n int, dst []float32) ([]float32, error) {
	if n < 0 || len(f.body) < 4*n {
		return nil, errors.New("file is truncated")
	}
	if dst == nil {
		dst = make([]float32, n)
	}
	for i := range dst[:n] {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(f.body[4*i:]))
	}
	f.body = f.body[4*n:]
	return dst, nil
}

// Rest is the number of unread bytes of tensor data.
func (f *File) Rest() int { return len(f.body) }
