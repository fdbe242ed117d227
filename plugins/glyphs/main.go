// Command glyphs serves the built-in procedural glyphs domain as a plugin.
// Install it as siamese-domain-glyphs in a plugin folder:
//
//	go build -o ~/.config/siamese/plugins/siamese-domain-glyphs ./plugins/glyphs
package main

import (
	"github.com/siamesenet/siamese/domains/glyphs"
	"github.com/siamesenet/siamese/plugins"
)

func main() { plugins.Serve(plugins.Builtin(glyphs.Name, "1.0.0")) }
