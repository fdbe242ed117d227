// Command questions serves the built-in questions domain as a plugin. Install it as
// siamese-domain-questions in a plugin folder:
//
//	go build -o ~/.config/siamese/plugins/siamese-domain-questions ./plugins/questions
package main

import (
	"github.com/siamesenet/siamese/domains/questions"
	"github.com/siamesenet/siamese/plugins"
)

func main() { plugins.Serve(plugins.Builtin(questions.Name, "1.0.0")) }
