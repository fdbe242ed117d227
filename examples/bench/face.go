package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io/fs"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/siamesenet/siamese/internal/npmpkg"
	"github.com/siamesenet/siamese/internal/scenes"
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
	m, err := face.Import(tgz, face.ImportOptions{})
	if err != nil {
		return err
	}
	dec, err := core.NewDecoder(m.Preprocess, m.Assets...)
	if err != nil {
		return err
	}
	finder := dec.(core.Finder)
	var img *image.RGBA
	rng := rand.New(rand.NewPCG(1, 1))
	what := "no face in it (every detector pass runs)"
	if lfw, err := face.OpenLFW(datadir.Domain(face.LFWFolder)); err == nil {
		raw, err := fs.ReadFile(lfw.Source().FS, face.LFWImage("Aaron_Eckhart", 1))
		lfw.Close()
		if err != nil {
			return err
		}
		f, err := imageset.Decode(raw)
		if err != nil {
			return err
		}
		img, _ = scenes.Paste(f, 640, 480, 150, 150, rng)
		what = "one LFW face of 150 px pasted in"
	} else {
		img = image.NewRGBA(image.Rect(0, 0, 640, 480))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.IntN(256))
		}
	}
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
	fmt.Printf("one 640×480 JPEG (%s), the imported face network, median of %d, on %s:\n\n| step | ms |\n|---|---|\n", what, max(reps, 5), machine())
	for _, k := range []string{"decode + detect + align", "embed one face", "total"} {
		v := times[k]
		sort.Float64s(v)
		fmt.Printf("| %s | %.1f |\n", k, v[len(v)/2])
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
