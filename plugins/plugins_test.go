package plugins

import (
	"context"
	"testing"

	"github.com/hashicorp/go-plugin"
	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/domains/glyphs"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	pb "github.com/siamesenet/siamese/plugins/proto"
	_ "github.com/siamesenet/siamese/towers/cnn"
)

func openGlyphs(core.DomainOptions) (core.Domain, error) {
	return glyphs.Open(glyphs.Options{TrainClasses: 30, ValClasses: 20, TestClasses: 20, PerClass: 6, TestEpisodes: 3, ValEpisodes: 3})
}

// inProcess serves a domain over go-plugin's in-process gRPC test
// connection and returns the host's view of it.
func inProcess(t *testing.T, c Config) *Plugin {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{pluginName: &DomainPlugin{Config: c}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	return &Plugin{Name: c.Name, Path: "(in process)", rpc: raw.(pb.DomainClient), timeout: DefaultTimeout}
}

// The domain contract holds across the gRPC adapters.
func TestContractOverGRPC(t *testing.T) {
	p := inProcess(t, Config{Name: "glyphs", Version: "9.9", Open: openGlyphs})
	name, version, err := p.About(context.Background())
	if err != nil || name != "glyphs" || version != "9.9" {
		t.Fatalf("about: %q %q %v", name, version, err)
	}
	remote, err := p.Open(context.Background(), core.DomainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	coretest.TestDomain(t, remote)
}
