package serve_test

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/domains/questions"
	"github.com/siamesenet/siamese/serve"
)

// A questions model with a lexical fusion serves as the CLI searches:
// questions enrolled as text, a query ranked by the fused score (its
// lexical part from the gallery's own word statistics), known against the
// model's threshold on that score.
func TestQuestionsModelServes(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,qid1,qid2,question1,question2,is_duplicate\n")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&b, "%d,1,2,How do I learn topic%d fast?,Best way to learn topic%d?,%d\n", i, i%11, (i+i%2)%11, 1-i%2)
	}
	os.WriteFile(filepath.Join(dir, "pairs.csv"), []byte(b.String()), 0o644)
	d, err := questions.Open(core.DomainOptions{DataDir: dir, Extra: map[string]string{"test": "", "sts": "none", "pan": "none", "val": "0.3"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := core.New(d.Describe().Spec, d.Describe().Preprocess, 2)
	if err != nil {
		t.Fatal(err)
	}
	// A fusion that weighs the lexical part (an untrained network's fitted
	// one would say little): the service's path is what is tested.
	sc := &questions.Scoring{Fusion: questions.Fusion{Bias: -3, Learned: 0.5, Lexical: 5}, Stats: questions.NewStats([]string{"How do I learn Go?", "What is Go?"})}
	if m.Scoring, err = sc.Marshal(); err != nil {
		t.Fatal(err)
	}
	m.Threshold = 0.5
	dec, err := core.NewDecoder(m.Preprocess)
	if err != nil {
		t.Fatal(err)
	}
	ps := questions.PairScore(m)
	if ps == nil {
		t.Fatal("no pair score for a model with a fusion")
	}
	srv, err := serve.New(serve.Config{Model: m, Decoder: dec, Store: fileStore(t), DefaultGallery: "faq", Logger: slog.New(slog.DiscardHandler),
		Enrolment: &core.Enrolment{Noun: "question", Key: "name", Item: "text", Min: 1, Max: 1, Accept: "duplicate", Reject: "different", Identify: true},
		Scorer:    func(g *gallery.Gallery) (serve.GalleryScorer, error) { return questions.NewIndex(g, m) },
		PairScore: ps})
	if err != nil {
		t.Fatal(err)
	}
	h := harnessFor(t, srv)
	for id, q := range map[string]string{"q1": "How can I install the zygomorphic compiler?", "q2": "What is the capital of France?", "q3": "How do I cook rice?"} {
		if code, out := h.admin.multipart("POST", "/v1/galleries/faq/subjects", map[string]string{"name": id, "text": q}); code != 201 {
			t.Fatalf("enrol %s: %d %v", id, code, out)
		}
	}
	code, out := h.kiosk.multipart("POST", "/v1/galleries/faq/identify", map[string]string{"text": "installing zygomorphic compiler", "k": "3"})
	items := list(t, out, "items")
	ms := items[0]["matches"].([]any)
	first := ms[0].(map[string]any)
	if code != 200 || first["name"] != "q1" || len(ms) != 3 {
		t.Fatalf("identify: %d %v", code, out)
	}
	if s := first["score"].(float64); s <= 0 || s >= 1 || first["known"] != (s >= 0.5) {
		t.Fatalf("the fused score is a probability, known at the threshold: %v", first)
	}
	// verify scores the claimed question as identify ranks it: by the
	// fused score, not the head's alone; a question with no shared word
	// scores lower.
	var scores []float64
	for _, name := range []string{"q1", "q3"} {
		code, out := h.kiosk.multipart("POST", "/v1/galleries/faq/verify", map[string]string{"name": name, "text": "installing zygomorphic compiler"})
		if code != 200 {
			t.Fatalf("verify %s: %d %v", name, code, out)
		}
		s := out["score"].(float64)
		if want := map[bool]string{true: "duplicate", false: "different"}[s >= 0.5]; out["verdict"] != want {
			t.Fatalf("verify %s: verdict %v at score %v, want %s", name, out["verdict"], s, want)
		}
		scores = append(scores, s)
	}
	if want := first["score"].(float64); math.Abs(scores[0]-want) > 1e-6 || scores[1] >= scores[0] {
		t.Fatalf("verify scores q1 %v and q3 %v; identify ranked q1 at %v", scores[0], scores[1], want)
	}
	// compare fuses with the model's own statistics, as the CLI does.
	qa, qb := "installing zygomorphic compiler", "How can I install the zygomorphic compiler?"
	code, out = h.kiosk.multipart("POST", "/v1/compare", nil, part{"a", "a.txt", qa}, part{"b", "b.txt", qb})
	if code != 200 {
		t.Fatalf("compare: %d %v", code, out)
	}
	var pair []core.Item
	for _, q := range []string{qa, qb} {
		it, err := dec.Decode([]byte(q))
		if err != nil {
			t.Fatal(err)
		}
		pair = append(pair, it)
	}
	es, err := m.Embed(t.Context(), pair, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want, got := ps([]byte(qa), []byte(qb), es[0], es[1]), out["score"].(float64); math.Abs(got-want) > 1e-6 {
		t.Fatalf("compare scores %v, want the fused %v", got, want)
	}
	// After a delete the search is made again: q1 is gone from it.
	if code, out, _ := h.admin.do("DELETE", "/v1/galleries/faq/subjects/q1", nil, ""); code != 200 {
		t.Fatalf("delete: %d %v", code, out)
	}
	_, out = h.kiosk.multipart("POST", "/v1/galleries/faq/identify", map[string]string{"text": "installing zygomorphic compiler", "k": "3"})
	if ms := list(t, out, "items")[0]["matches"].([]any); len(ms) != 2 || ms[0].(map[string]any)["name"] == "q1" {
		t.Fatalf("after delete: %v", out)
	}
}
