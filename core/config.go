package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// DecodeConfig decodes a tower's or head's JSON config into dst strictly: an
// unknown field (a typo), a value of the wrong type or trailing data is an
// error that names the field. An empty config leaves dst as it is.
func DecodeConfig(what string, raw json.RawMessage, dst any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return fmt.Errorf("%s config: field %q: want %s, got %s", what, te.Field, te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return fmt.Errorf("%s config: %s", what, strings.TrimPrefix(err.Error(), "json: "))
		}
		return fmt.Errorf("%s config: %w", what, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s config: data after the JSON object", what)
	}
	return nil
}

// TowerFactoryOf makes a TowerFactory from a constructor over a typed
// config, decoded strictly by DecodeConfig.
func TowerFactoryOf[C any, T Tower](name string, build func(C, *rand.Rand) (T, error)) TowerFactory {
	return func(raw json.RawMessage, rng *rand.Rand) (Tower, error) {
		var c C
		if err := DecodeConfig(name, raw, &c); err != nil {
			return nil, err
		}
		t, err := build(c, rng)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
}

// HeadFactoryOf makes a HeadFactory from a constructor over a typed
// config, decoded strictly by DecodeConfig.
func HeadFactoryOf[C any, H Head](name string, build func(in []int, c C, rng *rand.Rand) (H, error)) HeadFactory {
	return func(raw json.RawMessage, in []int, rng *rand.Rand) (Head, error) {
		var c C
		if err := DecodeConfig(name, raw, &c); err != nil {
			return nil, err
		}
		h, err := build(in, c, rng)
		if err != nil {
			return nil, err
		}
		return h, nil
	}
}
