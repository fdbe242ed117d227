// Command face serves the built-in face domain as a plugin. Install it as
// siamese-domain-face in a plugin folder:
//
//	go build -o ~/.config/siamese/plugins/siamese-domain-face ./plugins/face
package main

import (
	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/plugins"
)

func main() {
	plugins.Serve(plugins.Config{Name: face.Name, Version: "1.0.0", Open: func(o core.DomainOptions) (core.Domain, error) {
		return face.Open(o)
	}})
}
