package plugins

import (
	"context"
	"reflect"
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

// A plugin's batches, episodes and description are those of the same
// domain in process.
func TestSameAsInProcess(t *testing.T) {
	ctx := context.Background()
	local, _ := openGlyphs(core.DomainOptions{})
	remote, err := inProcess(t, Config{Name: "glyphs", Version: "1", Open: openGlyphs}).Open(ctx, core.DomainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ld, rd := local.Describe(), remote.Describe()
	if ld.Name != rd.Name || !reflect.DeepEqual(ld.Preprocess, rd.Preprocess) || !reflect.DeepEqual(ld.Input, rd.Input) || ld.Spec.Head != rd.Spec.Head {
		t.Errorf("descriptions differ:\n%+v\n%+v", ld, rd)
	}
	req := core.PairRequest{Split: "train", Seed: 7, Start: 3, Items: 12, Pairs: 16, Augment: true}
	ls, _ := local.Pairs(ctx, req)
	rs, err := remote.Pairs(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	defer rs.Close()
	for i := 0; i < 3; i++ {
		lb, _ := ls.Next(ctx)
		rb, err := rs.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(lb, rb) {
			t.Fatalf("batch %d differs between in process and out of process", i)
		}
	}
	le, _ := local.Episodes(ctx, "test20")
	re, err := remote.Episodes(ctx, "test20")
	if err != nil || !reflect.DeepEqual(le, re) {
		t.Fatalf("episodes differ: %v", err)
	}
	_, err = remote.Episodes(ctx, "nope")
	if err == nil {
		t.Error("unknown task: no error")
	}
}
