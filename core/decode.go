package core

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/siamesenet/siamese/internal/registry"
)

// Decoder turns a user's raw file (image bytes, text) into an item for a
// model.
type Decoder interface {
	Decode(raw []byte) (Item, error)
}

// DecoderFunc adapts a function to Decoder.
type DecoderFunc func(raw []byte) (Item, error)

// Decode implements Decoder.
func (f DecoderFunc) Decode(raw []byte) (Item, error) { return f(raw) }

// DecoderFactory makes the decoder of one preprocessing.
type DecoderFactory func(pre Preprocess) (Decoder, error)

var decoders = registry.New[DecoderFactory]("core: decoder of input kind")

// ErrUnknownKind is returned by NewDecoder for an input kind that no
// package of this build registered (a plugin's own kind, say: its domain's
// Decode decodes it).
var ErrUnknownKind = errors.New("no decoder registered for this input kind")

// RegisterDecoder makes the decoder of an input kind (Preprocess.Kind)
// available, as image.RegisterFormat does for image formats.
func RegisterDecoder(kind string, f DecoderFactory) { decoders.Register(kind, f) }

// NewDecoder returns the decoder of a preprocessing's kind.
func NewDecoder(pre Preprocess) (Decoder, error) {
	f, ok := decoders.Get(pre.Kind)
	if !ok {
		return nil, fmt.Errorf("input kind %q: %w", pre.Kind, ErrUnknownKind)
	}
	return f(pre)
}

// UnmarshalJSON reads a preprocessing, also as files written before
// domain-specific fits became kinds of their own wrote it ({"kind":
// "image", "fit": "ink"} is the kind "ink").
func (p *Preprocess) UnmarshalJSON(b []byte) error {
	type plain Preprocess
	var v struct {
		plain
		Fit string `json:"fit"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Preprocess(v.plain)
	if v.Fit != "" {
		p.Kind = v.Fit
	}
	return nil
}
