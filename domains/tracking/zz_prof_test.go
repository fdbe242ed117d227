package tracking

import (
	"context"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/heads/xcorr"
)

func BenchmarkZZNetworkShare(b *testing.B) {
	m, err := core.New(Spec, core.Preprocess{}, 1)
	if err != nil {
		b.Fatal(err)
	}
	h := m.Head.(*xcorr.Head)
	items := make([]core.Item, 3)
	for i := range items {
		items[i].Dense = make([]float32, core.Size(m.Tower.Input().Shape))
		for k := range items[i].Dense {
			items[i].Dense[k] = float32(k%17) / 17
		}
	}
	ctx := context.Background()
	e, _ := m.Embed(ctx, items, 3)
	z := h.Exemplar(e[0])
	var r []float32
	b.ResetTimer()
	for range b.N {
		f, _ := m.Embed(ctx, items, 3)
		for _, x := range f {
			r = h.Response(z, x, r, nil)
		}
	}
}
