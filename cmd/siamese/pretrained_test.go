package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"image"
	"image/draw"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/faceapitest"
	"github.com/siamesenet/siamese/internal/npmpkg"
)

// lfwPhotos reads LFW images from $SIAMESE_DATA (skipping without it).
func lfwPhotos(t *testing.T, names ...string) []image.Image {
	t.Helper()
	dir := datadir.Domain("lfw")
	if dir == "" {
		t.Skip("SIAMESE_DATA is not set: no LFW photos")
	}
	z, err := zip.OpenReader(filepath.Join(dir, "lfw.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var out []image.Image
	for _, n := range names {
		f, err := z.Open("lfw/" + n[:len(n)-9] + "/" + n)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(f)
		f.Close()
		img, _, err := image.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, img)
	}
	return out
}

// photo draws faces at the given places on a grey 640×480 picture.
func photo(faces []image.Image, at []image.Rectangle) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = uint8(100 + i%11)
		if i%4 == 3 {
			img.Pix[i] = 255 // opaque, as a camera's photo is
		}
	}
	for i, f := range faces {
		xdraw.BiLinear.Scale(img, at[i], f, f.Bounds(), draw.Src, nil)
	}
	return img
}

// The README's attendance path on ordinary photos: import once, enroll a
// person from a photo, identify the people of a group photo (each face
// with its box), a stranger called unknown; a photo without a face is a
// one-line error and leaves the gallery as it was.
func TestPretrainedAttendance(t *testing.T) {
	tgz := faceapitest.Tarball(t)
	imgs := lfwPhotos(t, "Aaron_Eckhart_0001.jpg", "Abdullah_Gul_0001.jpg", "Abdullah_Gul_0002.jpg", "Aaron_Peirsol_0001.jpg", "Abdullah_Gul_0003.jpg")
	dir := t.TempDir()
	model := filepath.Join(dir, "face-resnet.model")
	if _, err := run(t, "face", "import", "--from", tgz, "-o", model); err != nil {
		t.Fatal(err)
	}
	write := func(name string, img image.Image) string {
		p := filepath.Join(dir, name)
		writeImage(t, p, img)
		return p
	}
	gal := filepath.Join(dir, "staff.gallery")
	eckhart := write("eckhart.png", photo(imgs[:1], []image.Rectangle{image.Rect(200, 100, 380, 280)}))
	gul1 := write("gul1.png", photo(imgs[1:2], []image.Rectangle{image.Rect(300, 150, 460, 310)}))
	gul2 := write("gul2.png", photo(imgs[2:3], []image.Rectangle{image.Rect(100, 60, 260, 220)}))
	for _, e := range [][]string{{"eckhart", eckhart}, {"gul", gul1, gul2}} {
		if _, err := run(t, append([]string{"face", "enroll", "-m", model, "-g", gal, "--name", e[0]}, e[1:]...)...); err != nil {
			t.Fatal(err)
		}
	}
	group := write("group.png", photo([]image.Image{imgs[4], imgs[3]}, []image.Rectangle{image.Rect(40, 120, 220, 300), image.Rect(400, 100, 580, 280)}))
	out, err := run(t, "face", "identify", "-m", model, "-g", gal, "--json", group)
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		File  string
		Box   *struct{ X, Y, W, H int }
		Name  string
		Known bool
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rows) != 2 || rows[0].Box == nil || rows[1].Box == nil {
		t.Fatalf("group photo of two: %s", out)
	}
	for _, r := range rows {
		left := r.Box.X+r.Box.W/2 < 320
		switch {
		case left && (!r.Known || r.Name != "gul"):
			t.Errorf("the face at the left (Gul, a third photo) is %s (known %v)", r.Name, r.Known)
		case !left && r.Known:
			t.Errorf("the stranger at the right was taken for %s", r.Name)
		}
	}

	before, _ := os.ReadFile(gal)
	blank := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range blank.Pix {
		blank.Pix[i] = uint8(i * 13 % 253)
	}
	empty := write("empty.png", blank)
	_, err = run(t, "face", "enroll", "-m", model, "-g", gal, "--name", "nobody", empty)
	if err == nil || !strings.Contains(err.Error(), "empty.png: no face found") || strings.Contains(err.Error(), "\n") {
		t.Errorf("a photo without a face: %v", err)
	}
	if after, _ := os.ReadFile(gal); !bytes.Equal(before, after) {
		t.Error("the gallery changed on a failed enrolment")
	}
	if _, err := run(t, "face", "enroll", "-m", model, "-g", gal, "--name", "two", group); err == nil || !strings.Contains(err.Error(), "2 faces found") {
		t.Errorf("enrolling from a group photo: %v", err)
	}
	// --detect off takes the photo whole (a crop).
	if _, err := run(t, "face", "identify", "-m", model, "-g", gal, "--detect", "off", empty); err != nil {
		t.Errorf("--detect off: %v", err)
	}
	if _, err := run(t, "face", "identify", "-m", model, "-g", gal, "--detect", "maybe", group); err == nil || !strings.Contains(err.Error(), "want auto, on or off") {
		t.Errorf("--detect maybe: %v", err)
	}
}

// A weight folder whose shard is missing or short, or whose manifest names
// a tensor of the wrong shape, is one error naming the file; nothing is
// written.
func TestImportBadWeights(t *testing.T) {
	tgz := faceapitest.Tarball(t)
	pkg, err := npmpkg.Unpack(tgz)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		break_ func(dir string)
		want   string
	}{
		{"missing shard", func(d string) { os.Remove(filepath.Join(d, "face_recognition_model.bin")) }, "face_recognition_model.bin: open"},
		{"short shard", func(d string) {
			p := filepath.Join(d, "face_recognition_model.bin")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-100], 0o644)
		}, "a shard is missing, short or too long"},
		{"wrong shape", func(d string) {
			p := filepath.Join(d, "face_recognition_model-weights_manifest.json")
			b, _ := os.ReadFile(p)
			b = bytes.Replace(b, []byte(`"fc","shape":[256,128]`), []byte(`"fc","shape":[128,256]`), 1)
			os.WriteFile(p, b, 0o644)
		}, `weight "fc" has shape [128 256], want [256 128]`},
		{"SSD detector's shard missing", func(d string) { os.Remove(filepath.Join(d, "ssd_mobilenetv1_model.bin")) }, "ssd_mobilenetv1_model.bin: open"},
		{"SSD detector's tensor of the wrong shape", func(d string) {
			p := filepath.Join(d, "ssd_mobilenetv1_model-weights_manifest.json")
			b, _ := os.ReadFile(p)
			b = bytes.Replace(b, []byte(`"shape":[1,5118,4],"name":"Output/extra_dim"`), []byte(`"shape":[1,4,5118],"name":"Output/extra_dim"`), 1)
			os.WriteFile(p, b, 0o644)
		}, `weight "Output/extra_dim" has shape [1 4 5118], want [1 5118 4]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"face_recognition_model-weights_manifest.json", "face_recognition_model.bin", "tiny_face_detector_model-weights_manifest.json", "tiny_face_detector_model.bin",
				"ssd_mobilenetv1_model-weights_manifest.json", "ssd_mobilenetv1_model.bin"} {
				b, err := os.ReadFile(filepath.Join(pkg, "model", f))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, f), b, 0o644)
			}
			tc.break_(dir)
			out := filepath.Join(dir, "m.model")
			_, err := run(t, "face", "import", "--from", dir, "-o", out)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v, want one line with %q", err, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a model file was written")
			}
		})
	}
}
