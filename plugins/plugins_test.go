package plugins

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

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

// inProcess serves a domain over an in-memory gRPC connection with the
// options a real plugin and host use (MaxMessage) and returns the host's
// view of it.
func inProcess(t *testing.T, c Config) *Plugin {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(ServerOptions()...)
	if err := (&DomainPlugin{Config: c}).GRPCServer(nil, srv); err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	dial := append(DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	conn, err := grpc.Dial("bufnet", dial...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); srv.Stop() })
	return &Plugin{Name: c.Name, Path: "(in process)", rpc: pb.NewDomainClient(conn), timeout: DefaultTimeout}
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
