package face

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/internal/ssd"
	"github.com/siamesenet/siamese/internal/tfjs"
	"github.com/siamesenet/siamese/internal/tinyyolo"
	"github.com/siamesenet/siamese/towers/resnet"
)

// FaceAPIPackage is the npm package whose face_recognition_model Import
// reads (package MIT; dlib's network weights are in the public domain).
const FaceAPIPackage = "@vladmandic/face-api@1.7.15"

// FaceAPIModel is the model's name inside the package's model/ folder.
const FaceAPIModel = "face_recognition_model"

// DlibDistance is the Euclidean distance under which dlib calls two
// descriptors the same person.
const DlibDistance = 0.6

// PretrainedPreprocess is the input of the imported ResNet: faces found in
// a photo and aligned to 150×150 RGB chips in [0,1] (the tower subtracts
// face-api.js's mean itself).
func PretrainedPreprocess() core.Preprocess {
	return core.Preprocess{Kind: InputKind, Width: 150, Height: 150, Channels: 3, Std: 1,
		Extra: map[string]string{"detect": DetectAuto,
			"chip_scale": strconv.FormatFloat(DefaultChip.Scale, 'g', -1, 64),
			"chip_shift": strconv.FormatFloat(DefaultChip.ShiftY, 'g', -1, 64),
			"crop_scale": strconv.FormatFloat(DefaultChip.Crop, 'g', -1, 64)}}
}

// ImportOptions tune Import.
type ImportOptions struct {
	// Mirror makes the tower average each descriptor with the mirror
	// image's (resnet.Config.Mirror): on LFW View 1's training pairs it
	// adds 0.9 points, for twice the network's work. Off by default, the
	// published network's descriptor of the chip alone.
	Mirror bool
}

// ImportedTower is the tower configuration Import gives a model.
func ImportedTower(o ImportOptions) resnet.Config {
	c := resnet.FaceAPI
	c.Mirror = o.Mirror
	return c
}

// Import reads face-api.js's face-recognition network and its two face
// detectors (SSD MobileNetV1 and the tiny one) from a folder or an npm
// tarball (see tfjs.Open) and returns the model: the ResNet tower with a
// contrastive head (Euclidean distance d, score exp(−d)), its threshold at
// dlib's distance 0.6 until it is calibrated, and the detectors' weights
// as assets for the "face" input kind.
func Import(from string, o ImportOptions) (*core.Model, error) {
	load := func(model string) (tfjs.Weights, error) {
		src, err := tfjs.Open(from, model)
		if err != nil {
			return nil, err
		}
		return tfjs.Load(src, model)
	}
	w, err := load(FaceAPIModel)
	if err != nil {
		return nil, err
	}
	dw, err := load(tinyyolo.FaceDetector)
	if err != nil {
		return nil, err
	}
	if _, err := tinyyolo.LoadFace(dw); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", from, tinyyolo.FaceDetector, err)
	}
	sw, err := load(ssd.Model)
	if err != nil {
		return nil, err
	}
	if _, err := ssd.Load(sw); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", from, ssd.Model, err)
	}
	tc, _ := json.Marshal(ImportedTower(o))
	hc, _ := json.Marshal(contrastive.Config{Margin: 1})
	m, err := core.New(core.Spec{Tower: resnet.Name, TowerConfig: tc, Head: contrastive.Name, HeadConfig: hc}, PretrainedPreprocess(), 1)
	if err != nil {
		return nil, err
	}
	t, ok := m.Tower.(*resnet.Tower)
	if !ok {
		return nil, fmt.Errorf("import: tower %s is not the ResNet", m.Spec.Tower)
	}
	if err := resnet.LoadFaceAPI(t, w); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", from, FaceAPIModel, err)
	}
	m.Assets = append(DetectorAssets(DetectorAsset, dw), DetectorAssets(SSDAsset, sw)...)
	m.Threshold = math.Exp(-DlibDistance)
	m.Info.Domain = Name
	return m, nil
}

func sortedKeys(w tfjs.Weights) []string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
