package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/siamesenet/siamese/core"
	pb "github.com/siamesenet/siamese/plugins/proto"
)

// Prefix starts the file name of every domain plugin: siamese-domain-NAME.
const Prefix = "siamese-domain-"

// DefaultTimeout is the longest the host waits for one answer of a plugin
// before it calls the plugin hung.
const DefaultTimeout = 15 * time.Second

// Options tune how a plugin is started.
type Options struct {
	// Pin is the expected sha256 (hex) of the binary; a changed binary is
	// refused. Empty: not pinned.
	Pin string
	// Timeout bounds each answer (default DefaultTimeout).
	Timeout time.Duration
	// Log receives the plugin's stderr and go-plugin's warnings.
	Log *slog.Logger
}

// Plugin is a running plugin process.
type Plugin struct {
	Name     string // from the file name
	Path     string
	SHA256   string
	Protocol int
	client   *plugin.Client
	rpc      pb.DomainClient
	timeout  time.Duration
}

// FileSHA256 returns the hex sha256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Start starts the plugin binary at path and completes the handshake.
func Start(path string, o Options) (*Plugin, error) {
	name := strings.TrimPrefix(filepath.Base(path), Prefix)
	sum, err := FileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", path, err)
	}
	if o.Pin != "" && !strings.EqualFold(o.Pin, sum) {
		return nil, fmt.Errorf("plugin %s: binary %s has sha256 %s but is pinned to %s; refusing a changed binary (re-pin with 'siamese plugins pin %s')", name, path, sum[:12], o.Pin[:min(12, len(o.Pin))], name)
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("plugin", name)
	t := o.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	cmd := exec.Command(path)
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: versionedPlugins(Config{}),
		Cmd:              cmd,
		StartTimeout:     t,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  DialOptions(),
		AutoMTLS:         true,
		Managed:          true,
		Stderr:           &lineLogger{log: log},
		SyncStdout:       io.Discard,
		// go-plugin's own account of a failure is many lines: it goes to
		// the debug log (-v), and the error says it in one.
		Logger: hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Level: hclog.Debug,
			Output: &lineLogger{log: log, level: slog.LevelDebug}}),
	}
	if o.Pin != "" {
		raw, _ := hex.DecodeString(sum)
		cfg.SecureConfig = &plugin.SecureConfig{Checksum: raw, Hash: sha256.New()}
	}
	client := plugin.NewClient(cfg)
	rpcClient, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, startError(name, path, cmd, t, err)
	}
	raw, err := rpcClient.Dispense(pluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s (%s): %w", name, path, err)
	}
	return &Plugin{Name: name, Path: path, SHA256: sum, Protocol: client.NegotiatedVersion(), client: client, rpc: raw.(pb.DomainClient), timeout: t}, nil
}

// startError says in one line why a plugin did not start: it exited (with
// its status), it did not answer in time, or the first line of what
// go-plugin said.
func startError(name, path string, cmd *exec.Cmd, timeout time.Duration, err error) error {
	for i := 0; i < 20 && cmd.ProcessState == nil; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if st := cmd.ProcessState; st != nil && st.Exited() {
		return fmt.Errorf("plugin %s (%s) exited with status %d before the handshake (not a siamese plugin, or it failed to start)", name, path, st.ExitCode())
	}
	if strings.Contains(err.Error(), "timeout") {
		return fmt.Errorf("plugin %s (%s): no handshake within %s (hung, or not a siamese plugin)", name, path, timeout)
	}
	return fmt.Errorf("plugin %s (%s): start: %s", name, path, firstLine(err))
}

// About returns the name and version the plugin reports.
func (p *Plugin) About(ctx context.Context) (name, version string, err error) {
	m, err := p.about(ctx)
	if err != nil {
		return "", "", err
	}
	return m.Name, m.Version, nil
}

// Policy returns the policy of the plugin's domain, known before it is
// opened (the defaults for a plugin older than policies).
func (p *Plugin) Policy(ctx context.Context) (core.Policy, error) {
	var pol core.Policy
	m, err := p.about(ctx)
	if err != nil {
		return pol, err
	}
	if err := decodePolicy(m.Policy, &pol); err != nil {
		return pol, p.wrap("about", err)
	}
	return pol, nil
}

func (p *Plugin) about(ctx context.Context) (*pb.AboutReply, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	m, err := p.rpc.About(ctx, &pb.AboutRequest{})
	if err != nil {
		return nil, p.wrap("about", err)
	}
	return m, nil
}

// Close ends the plugin process.
func (p *Plugin) Close() {
	if p.client != nil {
		p.client.Kill()
	}
}

// Exited reports whether the plugin process has ended.
func (p *Plugin) Exited() bool { return p.client != nil && p.client.Exited() }

// wrap turns an RPC error into one line naming the plugin, saying whether
// it crashed or hung.
func (p *Plugin) wrap(what string, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("plugin %s (%s): %s: no answer within %s (hung?)", p.Name, p.Path, what, p.timeout)
	case p.Exited():
		return fmt.Errorf("plugin %s (%s): %s: the plugin process exited (crashed?): %v", p.Name, p.Path, what, firstLine(err))
	}
	return fmt.Errorf("plugin %s: %s: %v", p.Name, what, firstLine(err))
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimPrefix(s, "rpc error: ")
}

// Open configures the plugin's domain and returns it as a core.Domain.
func (p *Plugin) Open(ctx context.Context, o core.DomainOptions) (d core.Domain, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout*4)
	defer cancel()
	req := &pb.OpenRequest{DataDir: o.DataDir, Input: int32s(o.Input), Extra: o.Extra}
	if o.Preprocess != nil {
		if req.Preprocess, err = json.Marshal(o.Preprocess); err != nil {
			return nil, p.wrap("open", err)
		}
	}
	for _, a := range o.Assets {
		req.Assets = append(req.Assets, &pb.Tensor{Name: a.Name, Shape: int32s(a.Shape), Data: a.Data})
	}
	m, err := p.rpc.Open(ctx, req)
	if err != nil {
		return nil, p.wrap("open", err)
	}
	desc, err := fromDescription(m)
	if err != nil {
		return nil, p.wrap("open", err)
	}
	r := &remote{p: p, desc: desc}
	switch {
	case m.Calibrates && m.Validates:
		return &validatingCalibrating{&calibrating{r}}, nil
	case m.Calibrates:
		return &calibrating{r}, nil
	case m.Validates:
		return &validating{r}, nil
	}
	return r, nil
}

// validating is a plugin's domain that validates models itself while
// they train (core.Validator), as it does in process.
type validating struct{ *remote }

// Validate implements core.Validator.
func (v *validating) Validate(ctx context.Context, m *core.Model) (float64, error) {
	return v.validate(ctx, m)
}

// validatingCalibrating is a plugin's domain that does both.
type validatingCalibrating struct{ *calibrating }

// Validate implements core.Validator.
func (v *validatingCalibrating) Validate(ctx context.Context, m *core.Model) (float64, error) {
	return v.validate(ctx, m)
}

// validate saves m where the plugin can read it and asks the plugin's
// score.
func (r *remote) validate(ctx context.Context, m *core.Model) (float64, error) {
	path, done, err := saved(m)
	if err != nil {
		return 0, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, r.p.timeout*20)
	defer cancel()
	rep, err := r.p.rpc.Validate(ctx, &pb.ValidateRequest{ModelPath: path})
	if err != nil {
		return 0, r.p.wrap("validate", err)
	}
	return rep.Score, nil
}

// calibrating is a plugin's domain that calibrates and scores its models
// itself (core.Calibrator, core.PairScorer), as it does in process.
type calibrating struct{ *remote }

// saved saves m where the plugin can read it (it runs on this machine).
func saved(m *core.Model) (path string, done func(), err error) {
	dir, err := os.MkdirTemp("", "siamese-model-")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "model")
	if err := m.Save(path); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// TaskScores implements core.PairScorer.
func (c *calibrating) TaskScores(ctx context.Context, m *core.Model, task string) ([]float64, []bool, error) {
	path, done, err := saved(m)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, c.p.timeout*20)
	defer cancel()
	rep, err := c.p.rpc.Score(ctx, &pb.ScoreRequest{ModelPath: path, Task: task})
	if err != nil {
		return nil, nil, c.p.wrap("score", err)
	}
	if len(rep.Scores) != len(rep.Same) {
		return nil, nil, c.p.wrap("score", fmt.Errorf("%d scores for %d pairs", len(rep.Scores), len(rep.Same)))
	}
	return rep.Scores, rep.Same, nil
}

// Calibrate implements core.Calibrator: the model is saved to a temporary
// file the plugin reads (it runs on this machine), and what the plugin
// set is copied back into m.
func (c *calibrating) Calibrate(ctx context.Context, m *core.Model, task string, far float64) error {
	path, done, err := saved(m)
	if err != nil {
		return err
	}
	defer done()
	// Calibration embeds the validation data: allow it longer than one
	// answer.
	ctx, cancel := context.WithTimeout(ctx, c.p.timeout*20)
	defer cancel()
	rep, err := c.p.rpc.Calibrate(ctx, &pb.CalibrateRequest{ModelPath: path, Task: task, Far: far})
	if err != nil {
		return c.p.wrap("calibrate", err)
	}
	var cal core.Calibration
	metrics := map[string]float64{}
	if err := json.Unmarshal(rep.Calibration, &cal); err != nil {
		return c.p.wrap("calibrate", err)
	}
	if err := json.Unmarshal(rep.Metrics, &metrics); err != nil {
		return c.p.wrap("calibrate", err)
	}
	m.Threshold, m.Scoring, m.Info.Calibration = rep.Threshold, rep.Scoring, &cal
	if len(m.Scoring) == 0 {
		m.Scoring = nil
	}
	if m.Info.Metrics == nil {
		m.Info.Metrics = map[string]float64{}
	}
	for k, v := range metrics {
		m.Info.Metrics[k] = v
	}
	return nil
}

// remote is a plugin's domain seen from the host.
type remote struct {
	p    *Plugin
	desc core.Description
}

func (r *remote) Describe() core.Description { return r.desc }

func (r *remote) Decode(raw []byte) (core.Item, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.p.timeout)
	defer cancel()
	m, err := r.p.rpc.Decode(ctx, &pb.DecodeRequest{Raw: raw})
	if err != nil {
		return core.Item{}, r.p.wrap("decode", err)
	}
	return core.Item{Dense: m.Dense, Bag: m.Bag}, nil
}

func (r *remote) Episodes(ctx context.Context, task string) ([]core.Episode, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := r.p.rpc.Episodes(ctx, &pb.EpisodesRequest{Task: task})
	if err != nil {
		return nil, r.p.wrap("episodes", err)
	}
	var eps []core.Episode
	for {
		m, err := recvTimeout(ctx, r.p.timeout, st.Recv)
		if errors.Is(err, io.EOF) {
			return eps, nil
		}
		if err != nil {
			return nil, r.p.wrap("episodes "+task, err)
		}
		eps = append(eps, core.Episode{Support: fromItems(m.Support), SupportLabel: ints(m.SupportLabel), Query: fromItems(m.Query), QueryLabel: ints(m.QueryLabel)})
	}
}

// recvTimeout waits for one message at most t.
func recvTimeout[M any](ctx context.Context, t time.Duration, recv func() (M, error)) (M, error) {
	type res struct {
		m   M
		err error
	}
	ch := make(chan res, 1)
	go func() {
		m, err := recv()
		ch <- res{m, err}
	}()
	timer := time.NewTimer(t)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.m, r.err
	case <-timer.C:
		var zero M
		return zero, context.DeadlineExceeded
	case <-ctx.Done():
		var zero M
		return zero, ctx.Err()
	}
}

func (r *remote) Pairs(ctx context.Context, req core.PairRequest) (core.Stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	st, err := r.p.rpc.Pairs(ctx, &pb.PairRequest{Split: req.Split, Seed: req.Seed, Start: int64(req.Start),
		Items: int32(req.Items), Pairs: int32(req.Pairs), Augment: req.Augment})
	if err != nil {
		cancel()
		return nil, r.p.wrap("pairs", err)
	}
	// The first batch comes now, so that a bad request fails here.
	first, err := recvTimeout(ctx, r.p.timeout, st.Recv)
	if err != nil {
		cancel()
		return nil, r.p.wrap("pairs", err)
	}
	// Read ahead so that the plugin prepares the next batch while the host
	// trains on this one.
	ch := make(chan batchResult, 2)
	ch <- batchResult{b: fromBatch(first)}
	go func() {
		defer close(ch)
		for {
			m, err := st.Recv()
			var b *core.Batch
			if err == nil {
				b = fromBatch(m)
			}
			select {
			case ch <- batchResult{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return &remoteStream{p: r.p, ch: ch, cancel: cancel}, nil
}

type batchResult struct {
	b   *core.Batch
	err error
}

type remoteStream struct {
	p      *Plugin
	ch     <-chan batchResult
	cancel context.CancelFunc
	once   sync.Once
}

func (s *remoteStream) Next(ctx context.Context) (*core.Batch, error) {
	timer := time.NewTimer(s.p.timeout)
	defer timer.Stop()
	select {
	case r, ok := <-s.ch:
		if !ok {
			return nil, s.p.wrap("pairs", errors.New("stream closed"))
		}
		if r.err != nil {
			return nil, s.p.wrap("pairs", r.err)
		}
		return r.b, nil
	case <-timer.C:
		return nil, s.p.wrap("pairs", context.DeadlineExceeded)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *remoteStream) Close() error {
	s.once.Do(s.cancel)
	return nil
}

// lineLogger sends each line written to it to slog.
type lineLogger struct {
	log   *slog.Logger
	level slog.Level
	mu    sync.Mutex
	buf   []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
		if line == "" {
			continue
		}
		// go-plugin's servers log JSON lines (hclog); keep their level.
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["@message"] != nil {
			level := l.level
			switch rec["@level"] {
			case "trace", "debug":
				level = slog.LevelDebug
			case "warn":
				level = slog.LevelWarn
			case "error":
				level = slog.LevelError
			}
			var attrs []any
			for k, v := range rec {
				if !strings.HasPrefix(k, "@") {
					attrs = append(attrs, k, v)
				}
			}
			l.log.Log(context.Background(), level, fmt.Sprint(rec["@message"]), attrs...)
			continue
		}
		l.log.Log(context.Background(), l.level, line)
	}
	return len(p), nil
}
