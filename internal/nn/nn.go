// Package nn holds the layers that towers are built from. Each function is
// the one place a layer is put into a graph, so a faster custom op replaces
// a stock gorgonia op here without touching any tower.
package nn

import (
	"fmt"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2D is a valid (unpadded), stride-1 convolution of x [N,C,H,W] with
// w [F,C,K,K], plus bias [1,F,1,1], followed by ReLU when relu is set.
// It is the custom op of package ops (bias and ReLU fused, per-image
// im2col into a reused buffer, batch split across cores).
func Conv2D(b *core.Builder, x *G.Node, w, bias *core.Param, relu bool) (*G.Node, error) {
	y, err := ops.Conv2D(x, b.Param(w), b.Param(bias), relu)
	if err != nil {
		return nil, fmt.Errorf("conv %s: %w", w.Name, err)
	}
	return y, nil
}

// MaxPool2D is a k×k max-pool with stride k over x [N,C,H,W] (floor).
func MaxPool2D(x *G.Node, k int) (*G.Node, error) {
	return ops.MaxPool2D(x, k)
}

// Dense is x [N,I] · w [I,O] + bias [1,O], then the named activation.
func Dense(b *core.Builder, x *G.Node, w, bias *core.Param, act string) (*G.Node, error) {
	y, err := ops.Dense(x, b.Param(w), b.Param(bias))
	if err != nil {
		return nil, fmt.Errorf("dense %s: %w", w.Name, err)
	}
	return Activate(y, act)
}

// Activations lists the names Activate accepts.
var Activations = []string{"none", "relu", "sigmoid", "tanh"}

// Activate applies a named activation ("none" or "" is the identity).
func Activate(x *G.Node, act string) (*G.Node, error) {
	switch act {
	case "", "none":
		return x, nil
	case "relu", "sigmoid", "tanh":
		return ops.Activation(x, act)
	}
	return nil, fmt.Errorf("unknown activation %q (want one of %v)", act, Activations)
}

// CheckActivation validates an activation name.
func CheckActivation(act string) error {
	for _, a := range Activations {
		if act == a || act == "" {
			return nil
		}
	}
	return fmt.Errorf("unknown activation %q (want one of %v)", act, Activations)
}

// Flatten reshapes x [N,...] to [N, prod(...)] (a view of x's memory).
func Flatten(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	return ops.Reshape(x, s[0], core.Size(s[1:]))
}

// L2Normalize scales each row of x [N,D] to unit length.
func L2Normalize(b *core.Builder, x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 2 {
		return nil, fmt.Errorf("l2 normalize: want [N,D], got %v", s)
	}
	sq, err := G.Square(x)
	if err != nil {
		return nil, err
	}
	sum, err := G.Sum(sq, 1)
	if err != nil {
		return nil, err
	}
	sum, err = G.Add(sum, b.Const(1e-12))
	if err != nil {
		return nil, err
	}
	norm, err := G.Sqrt(sum)
	if err != nil {
		return nil, err
	}
	if norm, err = G.Reshape(norm, tensor.Shape{s[0], 1}); err != nil {
		return nil, err
	}
	return G.BroadcastHadamardDiv(x, norm, nil, []byte{1})
}

// Conv2DStrided is Conv2D with a stride and zero padding on every side
// (TensorFlow's "same" at stride 1 is pad K/2; "valid" is 0).
func Conv2DStrided(b *core.Builder, x *G.Node, w, bias *core.Param, stride, pad int, relu bool) (*G.Node, error) {
	y, err := ops.Conv2DStrided(x, b.Param(w), b.Param(bias), stride, pad, relu)
	if err != nil {
		return nil, fmt.Errorf("conv %s: %w", w.Name, err)
	}
	return y, nil
}

// MaxPool2DStrided is a k×k max-pool with the given stride, unpadded.
func MaxPool2DStrided(x *G.Node, k, stride int) (*G.Node, error) {
	return ops.MaxPool2DStrided(x, k, stride)
}

// Shortcut closes a residual block: ReLU(y + x), or with down ReLU(y +
// average-pooled x with zero channels appended), y zero-padded to fit.
func Shortcut(y, x *G.Node, down bool) (*G.Node, error) { return ops.Shortcut(y, x, down) }

// WithMirror stacks images x [N,C,H,W] and their mirror images: [2N,C,H,W].
func WithMirror(x *G.Node) (*G.Node, error) { return ops.WithMirror(x) }

// MeanHalves averages the two halves of a batch [2N, ...]: [N, ...].
func MeanHalves(y *G.Node) (*G.Node, error) { return ops.MeanHalves(y) }

// GlobalAvgPool averages each channel of x [N,C,H,W]: [N,C].
func GlobalAvgPool(x *G.Node) (*G.Node, error) { return ops.GlobalAvgPool(x) }
