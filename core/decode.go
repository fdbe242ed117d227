package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"

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

// DecoderFactory makes the decoder of one preprocessing, given the model's
// assets (Model.Assets; most kinds need none).
type DecoderFactory func(pre Preprocess, assets []*Param) (Decoder, error)

// Found is one item located in a larger input (a face in a photo): the
// item, where it is and how sure the finder is.
type Found struct {
	Item  Item
	Box   image.Rectangle
	Score float64
	// Whole says the item is the whole input (a decoder that finds
	// nothing: Box and Score are unset).
	Whole bool
}

// Finder is a Decoder that can find several items in one input; its
// Decode returns the most confident one.
type Finder interface {
	Decoder
	Find(raw []byte) ([]Found, error)
}

// FindItems is the one way an input becomes items, for the CLI and the
// service alike: every item a Finder finds in it (none is an error of the
// finder's), or else the one item the decoder makes of it, Whole.
func FindItems(dec Decoder, raw []byte) ([]Found, error) {
	if f, ok := dec.(Finder); ok {
		return f.Find(raw)
	}
	it, err := dec.Decode(raw)
	if err != nil {
		return nil, err
	}
	return []Found{{Item: it, Whole: true}}, nil
}

var decoders = registry.New[DecoderFactory]("core: decoder of input kind")

// ErrUnknownKind is returned by NewDecoder for an input kind that no
// package of this build registered (a plugin's own kind, say: its domain's
// Decode decodes it).
var ErrUnknownKind = errors.New("no decoder registered for this input kind")

// RegisterDecoder makes the decoder of an input kind (Preprocess.Kind)
// available, as image.RegisterFormat does for image formats.
func RegisterDecoder(kind string, f DecoderFactory) { decoders.Register(kind, f) }

// NewDecoder returns the decoder of a preprocessing's kind, given the
// model's assets.
func NewDecoder(pre Preprocess, assets ...*Param) (Decoder, error) {
	f, ok := decoders.Get(pre.Kind)
	if !ok {
		return nil, fmt.Errorf("input kind %q: %w", pre.Kind, ErrUnknownKind)
	}
	return f(pre, assets)
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
