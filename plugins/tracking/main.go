// Command tracking serves the built-in tracking domain (training pairs of
// crops from video sequences) as a plugin. Install it as
// siamese-domain-tracking in a plugin folder:
//
//	go build -o ~/.config/siamese/plugins/siamese-domain-tracking ./plugins/tracking
package main

import (
	"github.com/siamesenet/siamese/domains/tracking"
	"github.com/siamesenet/siamese/plugins"
)

func main() { plugins.Serve(plugins.Builtin(tracking.Name, "1.0.0")) }
