// Package plugins serves siamese domains out of process over
// hashicorp/go-plugin (gRPC), in the style of go-plugin's examples/grpc:
// this one package holds the handshake, the versioned plugin set, the
// gRPC client adapter (the host's view of a plugin as a core.Domain) and
// the gRPC server adapter (a plugin's core.Domain served to the host).
//
// A plugin author writes a core.Domain and a main that calls Serve:
//
//	func main() { plugins.Serve(plugins.Config{Name: "shapes", Version: "1.0.0", Open: open}) }
//
// The host finds plugin binaries named siamese-domain-NAME in its plugin
// folders and talks to them through the same core.Domain interface that
// built-in domains implement.
package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"

	"github.com/hashicorp/go-plugin"
	"github.com/siamesenet/siamese/core"
	pb "github.com/siamesenet/siamese/plugins/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	// A domain that calibrates its models (Calibrate) loads them: every
	// head is registered (a domain registers its own towers).
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/cosine"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	_ "github.com/siamesenet/siamese/heads/xcorr"
)

// ProtocolVersion is the newest plugin protocol this build speaks. A later
// version is added to VersionedPlugins beside version 1, so plugins built
// against version 1 keep working.
const ProtocolVersion = 1

// Handshake is shared by host and plugins: a plugin started by hand (not by
// a host) prints a message and exits instead of waiting.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SIAMESE_DOMAIN_PLUGIN",
	MagicCookieValue: "f3b1c9e2-one-shot-siamese",
}

// pluginName is the key of the domain plugin in the plugin set.
const pluginName = "domain"

// Config describes the domain a plugin serves.
type Config struct {
	Name    string             // domain name, e.g. "shapes"
	Version string             // the plugin's own version
	Open    core.DomainFactory // opens the domain with the host's options
	// Policy is the domain's policy, known to the host before it opens
	// the domain (its data folder, for one); an opened domain's
	// description carries it too unless it states its own.
	Policy core.Policy
}

// Builtin is the Config that serves a registered (built-in) domain out of
// process, with its registered policy.
func Builtin(name, version string) Config {
	pol, _ := core.DomainPolicy(name)
	return Config{Name: name, Version: version, Policy: pol, Open: func(o core.DomainOptions) (core.Domain, error) {
		return core.OpenDomain(name, o)
	}}
}

// versionedPlugins returns the plugin sets by protocol version.
func versionedPlugins(c Config) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		1: {pluginName: &DomainPlugin{Config: c}},
	}
}

// DomainPlugin is the go-plugin glue of the domain protocol.
type DomainPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Config is the served domain (zero on the host).
	Config Config
}

// GRPCServer registers the server adapter (plugin side).
func (p *DomainPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterDomainServer(s, &server{cfg: p.Config})
	return nil
}

// GRPCClient returns the client adapter (host side).
func (p *DomainPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewDomainClient(c), nil
}

// MaxMessage bounds one gRPC message between host and plugin. gRPC's
// default of 4 MiB is less than a face model's detectors' weights, which
// Open carries as assets.
const MaxMessage = 512 << 20

// ServerOptions are the plugin side's gRPC options: messages up to
// MaxMessage.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessage), grpc.MaxSendMsgSize(MaxMessage)}
}

// DialOptions are the host side's: messages up to MaxMessage.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessage), grpc.MaxCallSendMsgSize(MaxMessage))}
}

// Serve runs a plugin that serves the domain of c. It does not return.
func Serve(c Config) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: versionedPlugins(c),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts, ServerOptions()...))
		},
	})
}

// server adapts a core.Domain to the gRPC service.
type server struct {
	pb.UnimplementedDomainServer
	cfg Config
	mu  sync.Mutex
	dom core.Domain
}

func (s *server) About(context.Context, *pb.AboutRequest) (*pb.AboutReply, error) {
	pol, err := json.Marshal(s.cfg.Policy)
	if err != nil {
		return nil, err
	}
	return &pb.AboutReply{Name: s.cfg.Name, Version: s.cfg.Version, Policy: pol}, nil
}

func (s *server) domain() (core.Domain, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dom == nil {
		return nil, errors.New("domain not opened: call Open first")
	}
	return s.dom, nil
}

func (s *server) Open(_ context.Context, req *pb.OpenRequest) (*pb.Description, error) {
	o := core.DomainOptions{DataDir: req.DataDir, Input: ints(req.Input), Extra: req.Extra}
	if len(req.Preprocess) > 0 {
		var pre core.Preprocess
		if err := json.Unmarshal(req.Preprocess, &pre); err != nil {
			return nil, fmt.Errorf("open: the model's preprocessing: %w", err)
		}
		o.Preprocess = &pre
	}
	for _, a := range req.Assets {
		shape := ints(a.Shape)
		if n, ok := core.CheckedSize(shape); !ok || n != len(a.Data) {
			return nil, fmt.Errorf("open: asset %s has %d values for shape %v", a.Name, len(a.Data), shape)
		}
		o.Assets = append(o.Assets, &core.Param{Name: a.Name, Shape: shape, Data: a.Data, Frozen: true})
	}
	d, err := s.cfg.Open(o)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.dom = d
	s.mu.Unlock()
	desc := d.Describe()
	if reflect.DeepEqual(desc.Policy, core.Policy{}) {
		desc.Policy = s.cfg.Policy
	}
	m, err := toDescription(desc)
	if err != nil {
		return nil, err
	}
	_, cal := d.(core.Calibrator)
	_, ps := d.(core.PairScorer)
	m.Calibrates = cal && ps
	_, m.Validates = d.(core.Validator)
	return m, nil
}

// Validate scores the model the host saved the domain's own way
// (core.Validator).
func (s *server) Validate(ctx context.Context, req *pb.ValidateRequest) (*pb.ValidateReply, error) {
	d, err := s.domain()
	if err != nil {
		return nil, err
	}
	v, ok := d.(core.Validator)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this domain does not validate models itself")
	}
	m, err := core.Load(req.ModelPath)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	score, err := v.Validate(ctx, m)
	if err != nil {
		return nil, err
	}
	return &pb.ValidateReply{Score: score}, nil
}

// Score scores a task's pairs as the model the host saved scores them
// (core.PairScorer).
func (s *server) Score(ctx context.Context, req *pb.ScoreRequest) (*pb.ScoreReply, error) {
	d, err := s.domain()
	if err != nil {
		return nil, err
	}
	ps, ok := d.(core.PairScorer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this domain does not score pairs itself")
	}
	m, err := core.Load(req.ModelPath)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	scores, same, err := ps.TaskScores(ctx, m, req.Task)
	if err != nil {
		return nil, err
	}
	return &pb.ScoreReply{Scores: scores, Same: same}, nil
}

// Calibrate runs the domain's own calibration (core.Calibrator) on the
// model the host saved, and answers what it set.
func (s *server) Calibrate(ctx context.Context, req *pb.CalibrateRequest) (*pb.CalibrateReply, error) {
	d, err := s.domain()
	if err != nil {
		return nil, err
	}
	cal, ok := d.(core.Calibrator)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this domain does not calibrate its models itself")
	}
	m, err := core.Load(req.ModelPath)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if err := cal.Calibrate(ctx, m, req.Task, req.Far); err != nil {
		return nil, err
	}
	rep := &pb.CalibrateReply{Threshold: m.Threshold, Scoring: m.Scoring}
	if rep.Calibration, err = json.Marshal(m.Info.Calibration); err != nil {
		return nil, err
	}
	if rep.Metrics, err = json.Marshal(m.Info.Metrics); err != nil {
		return nil, err
	}
	return rep, nil
}

func (s *server) Pairs(req *pb.PairRequest, out pb.Domain_PairsServer) error {
	d, err := s.domain()
	if err != nil {
		return err
	}
	st, err := d.Pairs(out.Context(), core.PairRequest{Split: req.Split, Seed: req.Seed, Start: int(req.Start),
		Items: int(req.Items), Pairs: int(req.Pairs), Augment: req.Augment})
	if err != nil {
		return err
	}
	defer st.Close()
	for {
		b, err := st.Next(out.Context())
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := out.Send(toBatch(b)); err != nil {
			return err
		}
	}
}

func (s *server) Episodes(req *pb.EpisodesRequest, out pb.Domain_EpisodesServer) error {
	d, err := s.domain()
	if err != nil {
		return err
	}
	eps, err := d.Episodes(out.Context(), req.Task)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		m := &pb.Episode{Support: toItems(ep.Support), SupportLabel: int32s(ep.SupportLabel), Query: toItems(ep.Query), QueryLabel: int32s(ep.QueryLabel)}
		if err := out.Send(m); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) Decode(_ context.Context, req *pb.DecodeRequest) (*pb.Item, error) {
	d, err := s.domain()
	if err != nil {
		return nil, err
	}
	it, err := d.Decode(req.Raw)
	if err != nil {
		return nil, err
	}
	return &pb.Item{Dense: it.Dense, Bag: it.Bag}, nil
}

func toDescription(d core.Description) (*pb.Description, error) {
	pre, err := json.Marshal(d.Preprocess)
	if err != nil {
		return nil, err
	}
	var rule []byte
	if d.Rule != nil {
		if rule, err = json.Marshal(d.Rule); err != nil {
			return nil, err
		}
	}
	pol, err := json.Marshal(d.Policy)
	if err != nil {
		return nil, err
	}
	return &pb.Description{Policy: pol, Name: d.Name, Version: d.Version, InputKind: d.InputKind, InputSpecKind: string(d.Input.Kind),
		InputShape: int32s(d.Input.Shape), Tower: d.Spec.Tower, TowerConfig: d.Spec.TowerConfig, Head: d.Spec.Head,
		HeadConfig: d.Spec.HeadConfig, Preprocess: pre, Splits: d.Splits, Tasks: d.Tasks, Rule: rule}, nil
}

func fromDescription(m *pb.Description) (core.Description, error) {
	d := core.Description{Name: m.Name, Version: m.Version, InputKind: m.InputKind,
		Input:  core.InputSpec{Kind: core.InputKind(m.InputSpecKind), Shape: ints(m.InputShape)},
		Spec:   core.Spec{Tower: m.Tower, TowerConfig: m.TowerConfig, Head: m.Head, HeadConfig: m.HeadConfig},
		Splits: m.Splits, Tasks: m.Tasks}
	if len(m.Preprocess) > 0 {
		if err := json.Unmarshal(m.Preprocess, &d.Preprocess); err != nil {
			return d, fmt.Errorf("preprocessing: %w", err)
		}
	}
	if len(m.Rule) > 0 {
		d.Rule = &core.ScoreRule{}
		if err := json.Unmarshal(m.Rule, d.Rule); err != nil {
			return d, fmt.Errorf("score rule: %w", err)
		}
	}
	if err := decodePolicy(m.Policy, &d.Policy); err != nil {
		return d, err
	}
	return d, nil
}

// decodePolicy reads a policy sent by a plugin; a plugin older than
// policies sends none, and keeps the defaults.
func decodePolicy(raw []byte, p *core.Policy) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	if p.Enrolment != nil {
		if err := p.Enrolment.Check(); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
	}
	return nil
}

func toBatch(b *core.Batch) *pb.Batch {
	return &pb.Batch{Items: toItems(b.Items), A: int32s(b.A), B: int32s(b.B), Y: b.Y}
}

func fromBatch(m *pb.Batch) *core.Batch {
	return &core.Batch{Items: fromItems(m.Items), A: ints(m.A), B: ints(m.B), Y: m.Y}
}

func toItems(its []core.Item) []*pb.Item {
	out := make([]*pb.Item, len(its))
	for i, it := range its {
		out[i] = &pb.Item{Dense: it.Dense, Bag: it.Bag}
	}
	return out
}

func fromItems(ms []*pb.Item) []core.Item {
	out := make([]core.Item, len(ms))
	for i, m := range ms {
		out[i] = core.Item{Dense: m.Dense, Bag: m.Bag}
	}
	return out
}

func int32s(xs []int) []int32 {
	out := make([]int32, len(xs))
	for i, x := range xs {
		out[i] = int32(x)
	}
	return out
}

func ints(xs []int32) []int {
	if xs == nil {
		return nil
	}
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}
