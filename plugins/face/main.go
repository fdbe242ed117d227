// Command face serves the built-in face domain as a plugin. Install it as
// siamese-domain-face in a plugin folder:
//
//	go build -o ~/.config/siamese/plugins/siamese-domain-face ./plugins/face
package main

import (
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/plugins"
)

func main() { plugins.Serve(plugins.Builtin(face.Name, "1.0.0")) }
