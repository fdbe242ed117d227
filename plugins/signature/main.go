// Command signature serves the built-in signature domain as a plugin. Install it as
// siamese-domain-signature in a plugin folder:
//
//	go build -o ~/.config/siamese/plugins/siamese-domain-signature ./plugins/signature
package main

import (
	"github.com/siamesenet/siamese/domains/signature"
	"github.com/siamesenet/siamese/plugins"
)

func main() { plugins.Serve(plugins.Builtin(signature.Name, "1.0.0")) }
