package imageset

// A decoder for the Netpbm formats PGM and PPM (P2, P5: gray; P3, P6: RGB;
// maxval up to 65535), registered with the image package. Neither the
// standard library nor golang.org/x/image reads them, and no well-kept Go
// module does, so this small decoder (fuzzed by FuzzDecode) is our own.

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
)

func init() {
	for _, m := range []string{"P2", "P3", "P5", "P6"} {
		image.RegisterFormat("pnm", m, decodePNM, decodePNMConfig)
	}
}

type pnmHeader struct {
	magic         string
	width, height int
	maxval        int
}

func readPNMHeader(r *bufio.Reader) (pnmHeader, error) {
	var h pnmHeader
	tok, err := pnmToken(r)
	if err != nil {
		return h, err
	}
	switch tok {
	case "P2", "P3", "P5", "P6":
		h.magic = tok
	default:
		return h, fmt.Errorf("pnm: unsupported magic %q", tok)
	}
	vals := make([]int, 3)
	for i := range vals {
		if vals[i], err = pnmInt(r); err != nil {
			return h, fmt.Errorf("pnm: header: %w", err)
		}
	}
	h.width, h.height, h.maxval = vals[0], vals[1], vals[2]
	if h.width <= 0 || h.height <= 0 || int64(h.width)*int64(h.height) > MaxPixels {
		return h, fmt.Errorf("pnm: bad size %d×%d", h.width, h.height)
	}
	if h.maxval <= 0 || h.maxval > 65535 {
		return h, fmt.Errorf("pnm: bad maxval %d", h.maxval)
	}
	return h, nil
}

// pnmToken reads a whitespace-separated token, skipping # comments. For
// binary formats exactly one whitespace byte follows the last header token.
func pnmToken(r *bufio.Reader) (string, error) {
	var tok []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && len(tok) > 0 {
				return string(tok), nil
			}
			return "", io.ErrUnexpectedEOF
		}
		switch {
		case c == '#' && len(tok) == 0:
			if _, err := r.ReadString('\n'); err != nil {
				return "", io.ErrUnexpectedEOF
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			if len(tok) > 0 {
				return string(tok), nil
			}
		default:
			if len(tok) > 16 {
				return "", errors.New("pnm: token too long")
			}
			tok = append(tok, c)
		}
	}
}

func pnmInt(r *bufio.Reader) (int, error) {
	tok, err := pnmToken(r)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range []byte(tok) {
		if c < '0' || c > '9' || n > 1<<24 {
			return 0, fmt.Errorf("pnm: bad number %q", tok)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

func decodePNMConfig(r io.Reader) (image.Config, error) {
	h, err := readPNMHeader(bufio.NewReader(r))
	if err != nil {
		return image.Config{}, err
	}
	model := color.GrayModel
	if h.magic == "P3" || h.magic == "P6" {
		model = color.RGBAModel
	}
	return image.Config{ColorModel: model, Width: h.width, Height: h.height}, nil
}

func decodePNM(r io.Reader) (image.Image, error) {
	br := bufio.NewReader(r)
	h, err := readPNMHeader(br)
	if err != nil {
		return nil, err
	}
	ch := 1
	if h.magic == "P3" || h.magic == "P6" {
		ch = 3
	}
	n := h.width * h.height * ch
	vals := make([]int, n)
	switch h.magic {
	case "P2", "P3":
		for i := range vals {
			if vals[i], err = pnmInt(br); err != nil {
				return nil, fmt.Errorf("pnm: pixel %d: %w", i, err)
			}
		}
	default:
		size := 1
		if h.maxval > 255 {
			size = 2
		}
		buf := make([]byte, n*size)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("pnm: pixel data: %w (the file is truncated)", err)
		}
		for i := range vals {
			if size == 1 {
				vals[i] = int(buf[i])
			} else {
				vals[i] = int(buf[2*i])<<8 | int(buf[2*i+1])
			}
		}
	}
	scale := func(v int) (uint8, error) {
		if v > h.maxval {
			return 0, fmt.Errorf("pnm: value %d above maxval %d", v, h.maxval)
		}
		return uint8(v * 255 / h.maxval), nil
	}
	rect := image.Rect(0, 0, h.width, h.height)
	if ch == 1 {
		img := image.NewGray(rect)
		for i, v := range vals {
			if img.Pix[i], err = scale(v); err != nil {
				return nil, err
			}
		}
		return img, nil
	}
	img := image.NewRGBA(rect)
	for i := 0; i < h.width*h.height; i++ {
		for c := 0; c < 3; c++ {
			if img.Pix[4*i+c], err = scale(vals[3*i+c]); err != nil {
				return nil, err
			}
		}
		img.Pix[4*i+3] = 255
	}
	return img, nil
}
