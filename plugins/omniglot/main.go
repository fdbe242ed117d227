// Command omniglot serves the built-in Omniglot domain as a plugin. Install
// it as siamese-domain-omniglot in a plugin folder:
//
//	go build -o ~/.config/siamese/plugins/siamese-domain-omniglot ./plugins/omniglot
package main

import (
	"github.com/siamesenet/siamese/domains/omniglot"
	"github.com/siamesenet/siamese/plugins"
)

func main() { plugins.Serve(plugins.Builtin(omniglot.Name, "1.0.0")) }
