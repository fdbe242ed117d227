package questions

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/towers/text"
)

// Methods of scoring question pairs, as Compare names them.
const (
	MethodModel = "siamese"         // the head's score of the two embeddings
	MethodFused = "siamese+lexical" // the model's fusion with TF-IDF cosine
	MethodTFIDF = "tf-idf cosine"
	MethodBM25  = "bm25"
)

// MethodScores are one method's scores of a set of pairs (aligned with
// them) and its retrieval on the base the pairs make.
type MethodScores struct {
	Method    string          `json:"method"`
	Pairs     []float64       `json:"-"`
	Retrieval RetrievalResult `json:"retrieval"`
}

// scored is a base of texts, embedded and tokenized, with its word
// statistics.
type scored struct {
	texts []string
	words [][]string
	vecs  []Vector
	emb   [][]float32
	stats *Stats
}

func (d *Domain) score(ctx context.Context, m *core.Model, texts []string) (*scored, error) {
	s := &scored{texts: texts, stats: NewStats(texts)}
	items := make([]core.Item, len(texts))
	for i, t := range texts {
		it, err := d.Item(t)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", t, err)
		}
		items[i] = it
		w := text.Tokenize(t)
		s.words = append(s.words, w)
		s.vecs = append(s.vecs, s.stats.Vector(w))
	}
	var err error
	if s.emb, err = m.Embed(ctx, items, 0); err != nil {
		return nil, err
	}
	return s, nil
}

// Compare scores pairs, and the retrieval protocol of Base(pairs), with
// every method: the model's head, its fused score (when the model has a
// Scoring), TF-IDF cosine and BM25 — the lexical parts all with the word
// statistics of the base being searched (the pairs' questions), so every
// method knows the same about which words are rare.
func (d *Domain) Compare(ctx context.Context, m *core.Model, pairs []Pair) ([]MethodScores, error) {
	sc, err := ParseScoring(m.Scoring)
	if err != nil {
		return nil, err
	}
	base, queries := Base(pairs)
	b, err := d.score(ctx, m, base)
	if err != nil {
		return nil, err
	}
	at := map[string]int{}
	for i, t := range base {
		at[t] = i
	}
	learned := func(i, j int) float64 { return float64(m.Head.Score(b.emb[i], b.emb[j])) }
	tfidf := func(i, j int) float64 { return Cosine(b.vecs[i], b.vecs[j]) }
	bm25 := func(i, j int) float64 { return b.stats.PairBM25(b.words[i], b.words[j]) }
	type method struct {
		name  string
		pair  func(i, j int) float64 // the pair score
		rank  func(i, j int) float64 // the same order, cheaper
		query func(i, j int) float64 // retrieval: query i against document j
	}
	ms := []method{{MethodModel, learned, learned, learned}}
	if sc != nil {
		f := sc.Fusion
		fused := func(i, j int) float64 { return f.Score(learned(i, j), tfidf(i, j)) }
		lin := func(i, j int) float64 { return f.Learned*learned(i, j) + f.Lexical*tfidf(i, j) }
		ms = append(ms, method{MethodFused, fused, lin, lin})
	}
	ms = append(ms, method{MethodTFIDF, tfidf, tfidf, tfidf},
		method{MethodBM25, bm25, bm25, func(i, j int) float64 { return b.stats.BM25(b.words[i], b.words[j]) }})
	var out []MethodScores
	for _, me := range ms {
		r := MethodScores{Method: me.name}
		for _, p := range pairs {
			r.Pairs = append(r.Pairs, me.pair(at[p.A], at[p.B]))
		}
		r.Retrieval = Rank(len(base), queries, me.query)
		out = append(out, r)
	}
	return out, nil
}

// Distractors is how many training questions join the validation pairs'
// questions in the base that the fusion learns to rank.
const Distractors = 2000

// HardRanks is how many competitors of each validation query, by each
// score, the fusion's direction is fitted on.
const HardRanks = 20

// FitScoring fits the model's fusion of its head's score with TF-IDF
// cosine (FitRankedFusion) on the validation pairs: its direction on
// retrieval among the validation pairs' questions and Distractors
// training questions (lexical scores under that base's statistics, as a
// search has), its scale on the pairs themselves (lexical scores under the
// statistics of the training corpus and the validation questions, which
// the model keeps to score pairs outside any base; words of one text left
// out). It stores the fusion in m.Scoring.
func (d *Domain) FitScoring(ctx context.Context, m *core.Model) (*Scoring, error) {
	if len(d.Val) == 0 {
		return nil, fmt.Errorf("questions: no validation pairs to fit the fusion on")
	}
	base, queries := Base(d.Val)
	if len(queries) == 0 {
		return nil, fmt.Errorf("questions: no duplicate among the %d validation pairs to fit the fusion on", len(d.Val))
	}
	seen := map[string]bool{}
	for _, t := range base {
		seen[t] = true
	}
	for _, p := range d.Train {
		if len(base) >= len(seen)+Distractors && len(seen) > 0 {
			break
		}
		if !seen[p.A] {
			seen[p.A] = true
			base = append(base, p.A)
		}
	}
	b, err := d.score(ctx, m, base)
	if err != nil {
		return nil, err
	}
	// Each query's comparisons with the questions that compete with its
	// duplicate: the HardRanks closest by either score (the rest of the
	// base is ranked below it by both and teaches nothing).
	var diffs []RankPair
	for _, q := range queries {
		tl, tx := float64(m.Head.Score(b.emb[q[0]], b.emb[q[1]])), Cosine(b.vecs[q[0]], b.vecs[q[1]])
		ls, xs := make([]float32, len(base)), make([]float32, len(base))
		for j := range base {
			ls[j], xs[j] = m.Head.Score(b.emb[q[0]], b.emb[j]), float32(Cosine(b.vecs[q[0]], b.vecs[j]))
		}
		ls[q[0]], xs[q[0]], ls[q[1]], xs[q[1]] = float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1))
		pick := map[int]bool{}
		for _, j := range append(topK(ls, HardRanks), topK(xs, HardRanks)...) {
			pick[j] = true
		}
		delete(pick, q[0]) // a base smaller than HardRanks: they come last
		delete(pick, q[1])
		for _, j := range slices.Sorted(maps.Keys(pick)) {
			diffs = append(diffs, RankPair{tl - float64(ls[j]), tx - float64(xs[j])})
		}
	}
	var corpus []string
	for _, p := range append(append([]Pair(nil), d.Train...), d.Val...) {
		corpus = append(corpus, p.A, p.B)
	}
	stats := NewStats(corpus).Trim(2)
	at := map[string]int{}
	for i, t := range base {
		if _, ok := at[t]; !ok {
			at[t] = i
		}
	}
	var learned, lexical []float64
	var same []bool
	for _, p := range d.Val {
		learned = append(learned, float64(m.Head.Score(b.emb[at[p.A]], b.emb[at[p.B]])))
		lexical = append(lexical, Cosine(stats.Vector(text.Tokenize(p.A)), stats.Vector(text.Tokenize(p.B))))
		same = append(same, p.Same)
	}
	f, err := FitRankedFusion(diffs, learned, lexical, same)
	if err != nil {
		return nil, err
	}
	sc := &Scoring{Fusion: f, Stats: stats}
	if m.Scoring, err = sc.Marshal(); err != nil {
		return nil, err
	}
	return sc, nil
}

// Calibrate implements core.Calibrator: the fusion is fitted on the
// validation pairs, and the threshold set on the fused score of the same
// pairs (scored with the statistics the model keeps).
func (d *Domain) Calibrate(ctx context.Context, m *core.Model, task string, far float64) error {
	if task != "val" {
		return fmt.Errorf("questions: calibrate on %q: the fusion is fitted on the validation pairs (task val)", task)
	}
	sc, err := d.FitScoring(ctx, m)
	if err != nil {
		// Too few validation pairs to fit a fusion on (a toy data set):
		// the head's score alone, calibrated on the same pairs.
		slog.Warn("no lexical fusion: the threshold is calibrated on the learned score alone", "reason", err)
		m.Scoring, sc = nil, nil
	}
	scores, err := d.ScorePairs(ctx, m, sc, d.Val)
	if err != nil {
		return err
	}
	same := make([]bool, len(d.Val))
	for i, p := range d.Val {
		same[i] = p.Same
	}
	v, err := metrics.Verify(scores, same, math.NaN())
	if err != nil {
		return err
	}
	if m.Info.Metrics == nil {
		m.Info.Metrics = map[string]float64{}
	}
	m.Info.Metrics["val.eer"], m.Info.Metrics["val.auc"] = v.EER, v.AUC
	m.Threshold = v.EERThresh
	m.Info.Calibration = &core.Calibration{Task: task, Pairs: v.Pairs, At: "eer"}
	if far > 0 {
		th, tar := v.ThresholdAtFAR(far)
		if math.IsInf(th, 0) {
			return fmt.Errorf("calibrate on val: no threshold reaches FAR %g on %d pairs", far, v.Pairs)
		}
		m.Threshold = th
		m.Info.Metrics[fmt.Sprintf("val.tar_at_far_%g", far)] = tar
		m.Info.Calibration = &core.Calibration{Task: task, Pairs: v.Pairs, At: "far", FAR: far}
	}
	return nil
}

// TaskScores implements core.PairScorer: the pairs of a task scored as
// the model scores them (fused, when it has a scoring).
func (d *Domain) TaskScores(ctx context.Context, m *core.Model, task string) ([]float64, []bool, error) {
	pairs, err := d.taskPairs(task)
	if err != nil {
		return nil, nil, err
	}
	sc, err := ParseScoring(m.Scoring)
	if err != nil {
		return nil, nil, err
	}
	scores, err := d.ScorePairs(ctx, m, sc, pairs)
	if err != nil {
		return nil, nil, err
	}
	same := make([]bool, len(pairs))
	for i, p := range pairs {
		same[i] = p.Same
	}
	return scores, same, nil
}

// ScorePairs scores pairs as the model does outside a base: the fused
// score with the statistics the model keeps, or the head's score for a
// model without a scoring (sc nil).
func (d *Domain) ScorePairs(ctx context.Context, m *core.Model, sc *Scoring, pairs []Pair) ([]float64, error) {
	texts := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		texts = append(texts, p.A, p.B)
	}
	items := make([]core.Item, len(texts))
	for i, t := range texts {
		it, err := d.Item(t)
		if err != nil {
			return nil, err
		}
		items[i] = it
	}
	emb, err := m.Embed(ctx, items, 0)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(pairs))
	for i, p := range pairs {
		out[i] = sc.PairScore(float64(m.Head.Score(emb[2*i], emb[2*i+1])), p.A, p.B)
	}
	return out, nil
}
