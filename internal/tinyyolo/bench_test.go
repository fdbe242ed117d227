package tinyyolo_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"

	"github.com/siamesenet/siamese/internal/faceapitest"
	"github.com/siamesenet/siamese/internal/tinyyolo"
)

func BenchmarkDetect(b *testing.B) {
	n := load(b)
	img := faceapitest.Scene([]image.Image{image.NewRGBA(image.Rect(0, 0, 50, 50))}, []image.Rectangle{image.Rect(100, 100, 200, 200)})
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, nil)
	dec, _ := jpeg.Decode(&buf)
	big := image.NewRGBA(image.Rect(0, 0, 640, 480))
	_ = big
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.Detect(dec, tinyyolo.Options{})
	}
}
