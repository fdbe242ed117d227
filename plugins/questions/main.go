// Command questions serves the built-in questions domain as a plugin. Install it as
// siamese-domain-questions in a plugin folder:
//
//	go build -o ~/.config/siamese/plugins/siamese-domain-questions ./plugins/questions
package main

import (
	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/questions"
	"github.com/siamesenet/siamese/plugins"
)

func main() {
	plugins.Serve(plugins.Config{Name: questions.Name, Version: "1.0.0", Open: func(o core.DomainOptions) (core.Domain, error) {
		return questions.Open(o)
	}})
}
