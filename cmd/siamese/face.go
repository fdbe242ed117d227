package main

import (
	"fmt"

	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/internal/npmpkg"
	"github.com/urfave/cli/v2"
)

// faceCommand is the face domain's command with its pretrained import.
func faceCommand() *cli.Command {
	return domainCommand(face.Name, "face", "face recognition: import the pretrained network, train, evaluate, enroll people from a few photos, identify and verify",
		&cli.Command{
			Name:  "import",
			Usage: "write a model file from face-api.js's published face-recognition network (dlib's ResNet)",
			Description: "Reads the TensorFlow.js weights of " + face.FaceAPIPackage + " (model/" + face.FaceAPIModel + "*)\n" +
				"from --from (the npm tarball or an unpacked folder); without --from it runs `npm pack` into\n" +
				"the cache first. The model file then needs nothing from npm.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "from", Usage: "the package tarball (.tgz) or a folder holding its model files (default: npm pack " + face.FaceAPIPackage + ")"},
				&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: "face-resnet.model", Usage: "model file to write"},
				&cli.BoolFlag{Name: "mirror", Usage: "average each descriptor with the mirror image's (+0.9 points on LFW View 1, for twice the network's work; default: the chip alone, as published)"},
				jsonFlag(),
			},
			Action: runFaceImport,
		})
}

func runFaceImport(c *cli.Context) error {
	out := c.String("out")
	if err := writable(out); err != nil {
		return err
	}
	from := c.String("from")
	if from == "" {
		var err error
		if from, err = npmpkg.Fetch(c.Context, face.FaceAPIPackage); err != nil {
			return fmt.Errorf("%w (fetch the package elsewhere with `npm pack %s` and pass --from)", err, face.FaceAPIPackage)
		}
	}
	m, err := face.Import(from, face.ImportOptions{Mirror: c.Bool("mirror")})
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Save(out); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c, map[string]any{"model": out, "from": from, "tower": m.Spec.Tower, "head": m.Spec.Head,
			"embedding": m.EmbeddingSize(), "threshold": m.Threshold})
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %s tower (%d-d descriptors) from %s, %s head, threshold %.4f (distance %.2f)\n",
		out, m.Spec.Tower, m.EmbeddingSize(), from, m.Spec.Head, m.Threshold, face.DlibDistance)
	return nil
}
