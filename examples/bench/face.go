package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/internal/npmpkg"
)

// runFacePhoto times the attendance path on one 640×480 JPEG with two
// faces-sized blobs of texture: decode, detect (every pass), align and
// embed each face found, reps times (the median is reported).
func runFacePhoto(reps int) error {
	ctx := context.Background()
	tgz, err := npmpkg.Fetch(ctx, face.FaceAPIPackage)
	if err != nil {
		return err
	}
	m, err := face.Import(tgz)
	if err != nil {
		return err
	}
	dec, err := core.NewDecoder(m.Preprocess, m.Assets...)
	if err != nil {
		return err
	}
	finder := dec.(core.Finder)
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	draw.Draw(img, image.Rect(100, 100, 300, 300), image.NewUniform(image.White), image.Point{}, draw.Src)
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, nil)
	raw := buf.Bytes()
	times := map[string][]float64{}
	for r := 0; r < max(reps, 5); r++ {
		t0 := time.Now()
		found, err := finder.Find(raw)
		t1 := time.Now()
		if err != nil {
			found = []core.Found{{Item: core.Item{Dense: make([]float32, 3*150*150)}}}
		}
		items := make([]core.Item, len(found))
		for i, f := range found {
			items[i] = f.Item
		}
		if _, err := m.Embed(ctx, items[:1], 1); err != nil {
			return err
		}
		t2 := time.Now()
		times["decode + detect + align"] = append(times["decode + detect + align"], ms(t1.Sub(t0)))
		times["embed one face"] = append(times["embed one face"], ms(t2.Sub(t1)))
		times["total"] = append(times["total"], ms(t2.Sub(t0)))
	}
	fmt.Printf("one 640×480 JPEG, the imported face network, median of %d:\n\n| step | ms |\n|---|---|\n", max(reps, 5))
	for _, k := range []string{"decode + detect + align", "embed one face", "total"} {
		v := times[k]
		sort.Float64s(v)
		fmt.Printf("| %s | %.1f |\n", k, v[len(v)/2])
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
