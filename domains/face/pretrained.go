package face

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/internal/tfjs"
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

// PretrainedPreprocess is the input of the imported ResNet: 150×150 RGB in
// [0,1] (the tower subtracts face-api.js's mean itself).
var PretrainedPreprocess = core.Preprocess{Kind: "image", Width: 150, Height: 150, Channels: 3, Std: 1}

// Import reads face-api.js's face-recognition weights from a folder or an
// npm tarball (see tfjs.Open) and returns the model: the ResNet tower with
// a contrastive head (Euclidean distance d, score exp(−d)), its threshold
// at dlib's distance 0.6 until it is calibrated.
func Import(from string) (*core.Model, error) {
	src, err := tfjs.Open(from, FaceAPIModel)
	if err != nil {
		return nil, err
	}
	w, err := tfjs.Load(src, FaceAPIModel)
	if err != nil {
		return nil, err
	}
	tc, _ := json.Marshal(resnet.FaceAPI)
	hc, _ := json.Marshal(contrastive.Config{Margin: 1})
	m, err := core.New(core.Spec{Tower: resnet.Name, TowerConfig: tc, Head: contrastive.Name, HeadConfig: hc}, PretrainedPreprocess, 1)
	if err != nil {
		return nil, err
	}
	t, ok := m.Tower.(*resnet.Tower)
	if !ok {
		return nil, fmt.Errorf("import: tower %s is not the ResNet", m.Spec.Tower)
	}
	if err := resnet.LoadFaceAPI(t, w); err != nil {
		return nil, fmt.Errorf("%s: %w", src.Where(FaceAPIModel+"-weights_manifest.json"), err)
	}
	m.Threshold = math.Exp(-DlibDistance)
	m.Info.Domain = Name
	return m, nil
}
