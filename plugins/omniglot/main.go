// Command omniglot serves the built-in Omniglot domain as a plugin. Install
// it as siamese-domain-omniglot in a plugin folder:
//
//	go build -o ~/.config/siamese/plugins/siamese-domain-omniglot ./plugins/omniglot
package main

import (
	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/omniglot"
	"github.com/siamesenet/siamese/plugins"
)

func main() {
	plugins.Serve(plugins.Config{Name: omniglot.Name, Version: "1.0.0", Open: func(o core.DomainOptions) (core.Domain, error) {
		return omniglot.Open(o)
	}})
}
