package plugins

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/domains/questions"
	"github.com/siamesenet/siamese/domains/signature"
	"github.com/siamesenet/siamese/domains/tracking"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/cosine"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/faceapitest"
	_ "github.com/siamesenet/siamese/towers/resnet"
	_ "github.com/siamesenet/siamese/towers/text"
)

// Every built-in domain served as a plugin gives what it gives in process:
// description, batches and episodes (a resumed stream included), and
// passes the domain suite.
func TestBuiltinDomainsOverGRPC(t *testing.T) {
	sigDir := t.TempDir()
	if err := signature.WriteSynthetic(sigDir, "generic", 6, 6, 2); err != nil {
		t.Fatal(err)
	}
	qDir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,qid1,qid2,question1,question2,is_duplicate\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "%d,1,2,How do I learn topic%d?,Best way to learn topic%d?,%d\n", i, i%7, (i+i%2)%7, 1-i%2)
	}
	os.WriteFile(filepath.Join(qDir, "pairs.csv"), []byte(b.String()), 0o644)
	trackDir := t.TempDir()
	if err := tracking.WriteSynthetic(trackDir, "Square", 20, 120, 90); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		open func(core.DomainOptions) (core.Domain, error)
		opts core.DomainOptions
		task string
	}{
		{"glyphs", openGlyphs, core.DomainOptions{}, "test20"},
		{"signature", func(o core.DomainOptions) (core.Domain, error) { return signature.Open(o) },
			core.DomainOptions{DataDir: sigDir, Extra: map[string]string{"test": "2", "val": "1"}}, "test"},
		{"questions", func(o core.DomainOptions) (core.Domain, error) { return questions.Open(o) },
			core.DomainOptions{DataDir: qDir, Extra: map[string]string{"test": "", "sts": "none"}}, "test"},
		{"tracking", func(o core.DomainOptions) (core.Domain, error) { return tracking.OpenDomain(o) },
			core.DomainOptions{DataDir: trackDir}, "val"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			local, err := tc.open(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			remote, err := inProcess(t, Config{Name: tc.name, Version: "1", Open: tc.open}).Open(ctx, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			coretest.TestDomain(t, remote)
			ld, rd := local.Describe(), remote.Describe()
			if !reflect.DeepEqual(ld.Preprocess, rd.Preprocess) || !reflect.DeepEqual(ld.Input, rd.Input) || ld.Spec.Tower != rd.Spec.Tower || ld.Spec.Head != rd.Spec.Head || !reflect.DeepEqual(ld.Rule, rd.Rule) {
				t.Errorf("descriptions differ:\n%+v\n%+v", ld, rd)
			}
			req := core.PairRequest{Split: "train", Seed: 3, Start: 1, Items: 16, Pairs: 24, Augment: true}
			ls, _ := local.Pairs(ctx, req)
			rs, err := remote.Pairs(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			defer ls.Close()
			defer rs.Close()
			for i := 0; i < 2; i++ {
				lb, _ := ls.Next(ctx)
				rb, err := rs.Next(ctx)
				if err != nil || !reflect.DeepEqual(lb, rb) {
					t.Fatalf("batch %d differs in and out of process (%v)", i, err)
				}
			}
			le, _ := local.Episodes(ctx, tc.task)
			re, err := remote.Episodes(ctx, tc.task)
			if err != nil || !reflect.DeepEqual(le, re) {
				t.Fatalf("episodes differ: %v", err)
			}
			if _, err := remote.Episodes(ctx, "nope"); err == nil {
				t.Error("unknown task: no error")
			}
			// A domain that validates its own way does so over gRPC too.
			if lv, ok := local.(core.Validator); ok {
				rv, ok := remote.(core.Validator)
				if !ok {
					t.Fatal("the plugin does not validate; the domain in process does")
				}
				m, err := core.New(ld.Spec, ld.Preprocess, 3)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				want, err := lv.Validate(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := rv.Validate(ctx, m); err != nil || got != want {
					t.Errorf("validation %v (%v) over gRPC, %v in process", got, err, want)
				}
			}
		})
	}
}

// The face domain served as a plugin prepares its photos for a given
// model (the imported network's preprocessing, the detector's weights as
// assets, sent over gRPC) exactly as in process.
func TestFaceForPretrainedOverGRPC(t *testing.T) {
	root := datadir.Domain("att_faces")
	if root == "" {
		t.Skip("SIAMESE_DATA is not set: no ORL photos")
	}
	m, err := face.Import(faceapitest.Tarball(t), face.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Five of ORL's subjects, so that the photos are detected in seconds.
	z, err := zip.OpenReader(datadir.Archive(root, "att_faces.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	dir := t.TempDir()
	for _, f := range z.File {
		if s := strings.Split(f.Name, "/"); len(s) == 3 && strings.HasSuffix(f.Name, ".pgm") && (s[1] == "s1" || s[1] == "s2" || s[1] == "s3" || s[1] == "s4" || s[1] == "s5") {
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			r.Close()
			os.MkdirAll(filepath.Join(dir, s[1]), 0o755)
			os.WriteFile(filepath.Join(dir, s[1], s[2]), b, 0o644)
		}
	}
	pre := m.Preprocess
	opts := core.DomainOptions{DataDir: dir, Preprocess: &pre, Assets: m.Assets, Extra: map[string]string{"test": "1", "val": "1"}}
	open := func(o core.DomainOptions) (core.Domain, error) { return face.Open(o) }
	local, err := open(opts)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := inProcess(t, Config{Name: "face", Version: "1", Open: open}).Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ld, rd := local.Describe(), remote.Describe()
	if rd.InputKind != face.InputKind || !reflect.DeepEqual(rd.Input.Shape, []int{3, 150, 150}) || !reflect.DeepEqual(ld.Preprocess, rd.Preprocess) {
		t.Fatalf("remote description %+v, local %+v", rd, ld)
	}
	req := core.PairRequest{Split: "train", Seed: 1, Items: 8, Pairs: 8}
	ls, _ := local.Pairs(context.Background(), req)
	rs, err := remote.Pairs(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	defer rs.Close()
	lb, _ := ls.Next(context.Background())
	rb, err := rs.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lb.Items[0].Dense, rb.Items[0].Dense) {
		t.Error("the plugin's chips differ from the built-in's")
	}
}

// The questions domain served as a plugin calibrates a model (its lexical
// fusion and threshold) exactly as in process.
func TestQuestionsCalibrateOverGRPC(t *testing.T) {
	qDir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,qid1,qid2,question1,question2,is_duplicate\n")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&b, "%d,1,2,How do I learn topic%d fast?,Best way to learn topic%d?,%d\n", i, i%11, (i+i%2)%11, 1-i%2)
	}
	os.WriteFile(filepath.Join(qDir, "pairs.csv"), []byte(b.String()), 0o644)
	opts := core.DomainOptions{DataDir: qDir, Extra: map[string]string{"test": "", "sts": "none", "pan": "none", "val": "0.3"}}
	open := func(o core.DomainOptions) (core.Domain, error) { return questions.Open(o) }
	local, err := open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	remote, err := inProcess(t, Config{Name: "questions", Version: "1", Open: open}).Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	rc, ok := remote.(core.Calibrator)
	if !ok {
		t.Fatal("the questions plugin does not calibrate")
	}
	desc := local.Describe()
	ml, _ := core.New(desc.Spec, desc.Preprocess, 5)
	mr, _ := core.New(desc.Spec, desc.Preprocess, 5)
	if err := local.(core.Calibrator).Calibrate(ctx, ml, "val", 0); err != nil {
		t.Fatal(err)
	}
	if err := rc.Calibrate(ctx, mr, "val", 0); err != nil {
		t.Fatal(err)
	}
	if ml.Threshold != mr.Threshold || string(ml.Scoring) != string(mr.Scoring) || len(mr.Scoring) == 0 || !reflect.DeepEqual(ml.Info.Calibration, mr.Info.Calibration) {
		t.Fatalf("calibrated differently:\nin process %v %s %+v\nplugin     %v %s %+v", ml.Threshold, ml.Scoring[:min(80, len(ml.Scoring))], ml.Info.Calibration, mr.Threshold, mr.Scoring[:min(80, len(mr.Scoring))], mr.Info.Calibration)
	}
	ls, lsame, err := local.(core.PairScorer).TaskScores(ctx, ml, "val")
	if err != nil {
		t.Fatal(err)
	}
	rs, rsame, err := remote.(core.PairScorer).TaskScores(ctx, mr, "val")
	if err != nil || !reflect.DeepEqual(ls, rs) || !reflect.DeepEqual(lsame, rsame) {
		t.Fatalf("pair scores differ in and out of process: %v", err)
	}
	// A domain that does not calibrate itself is not a Calibrator.
	g, err := inProcess(t, Config{Name: "glyphs", Version: "1", Open: openGlyphs}).Open(ctx, core.DomainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.(core.Calibrator); ok {
		t.Error("the glyphs plugin claims to calibrate")
	}
}

// The tracking plugin validates a training model as the domain does in
// process (the tracker's success on the validation sequences), over the
// new options; a domain that does not validate itself is not a Validator.
func TestTrackingValidateOverGRPC(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"Square", "Walk"} {
		if err := tracking.WriteSynthetic(dir, n, 10, 120, 90); err != nil {
			t.Fatal(err)
		}
	}
	opts := core.DomainOptions{DataDir: dir, Extra: map[string]string{"validation": "Walk", "min_target": "3", "more": "none"}}
	open := func(o core.DomainOptions) (core.Domain, error) { return tracking.OpenDomain(o) }
	local, err := open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	remote, err := inProcess(t, Config{Name: "tracking", Version: "1", Open: open}).Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	rv, ok := remote.(core.Validator)
	if !ok {
		t.Fatal("the tracking plugin does not validate")
	}
	desc := local.Describe()
	m, err := core.New(desc.Spec, desc.Preprocess, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want, err := local.(core.Validator).Validate(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rv.Validate(ctx, m)
	if err != nil || got != want || want <= 0 {
		t.Fatalf("validation %v (%v) over gRPC, %v in process", got, err, want)
	}
	g, err := inProcess(t, Config{Name: "glyphs", Version: "1", Open: openGlyphs}).Open(ctx, core.DomainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.(core.Validator); ok {
		t.Error("the glyphs plugin claims to validate")
	}
}
