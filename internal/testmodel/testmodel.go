// Package testmodel makes the small models that core's tests share: an MLP
// tower over 6-d vectors (hidden 5, embedding 4) with a head by name.
package testmodel

import (
	"testing"

	"github.com/siamesenet/siamese/core"
	_ "github.com/siamesenet/siamese/heads/contrastive" // the heads tests use
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	_ "github.com/siamesenet/siamese/towers/mlp"
)

// MLP is a 6 → 5 → 4 MLP tower with the named head, seeded alike every time.
func MLP(t testing.TB, head string) *core.Model {
	t.Helper()
	m, err := core.New(core.Spec{Tower: "mlp", TowerConfig: []byte(`{"input":6,"hidden":[5],"embed":4}`), Head: head}, core.Preprocess{Kind: "vector"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
