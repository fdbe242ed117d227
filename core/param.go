// Package core is the twin runner of siamese: it composes a Tower and a
// Head into a Model, trains it, evaluates it (verification and N-way K-shot
// identification), embeds and compares items, and saves and loads one
// self-describing model file.
//
// core never imports a tower, head or domain: those register themselves by
// name (RegisterTower, RegisterHead, RegisterDomain), as database/sql
// drivers do, so a model file can name its tower and head.
package core

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// Param is one learnable tensor. Its Data is the single copy of the weights:
// a float32 graph uses it as the node's backing array, so the optimizer
// updates it in place.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	// Frozen params are saved with the model but not trained by gradient
	// (for example batch-norm running statistics).
	Frozen bool
	// Sparse params (embedding tables) are not differentiated by the graph:
	// the op that reads them adds its gradient to the Builder's SparseGrad
	// of the param, for the rows it used only.
	Sparse bool
}

// NewParam allocates a zeroed parameter of the given shape. While a model
// file is loaded, the weights its tensor table declares bound what may be
// allocated: a header that asks for more fails before the memory is taken.
func NewParam(name string, shape ...int) *Param {
	n, ok := checkedSize(shape)
	if !ok {
		panic(errTooLarge{fmt.Sprintf("parameter %s of shape %v", name, shape)})
	}
	paramBudget.take(name, n)
	return &Param{Name: name, Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// MaxElements bounds the elements of one tensor or input.
const MaxElements = 1 << 31

// checkedSize is Size for shapes of positive sides whose product stays
// within MaxElements.
func checkedSize(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 1 || d > MaxElements || n > MaxElements/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// errTooLarge is the panic of NewParam past its budget; building a model
// turns it into an error.
type errTooLarge struct{ what string }

func (e errTooLarge) Error() string { return e.what + " is out of range" }

// paramBudget is the allocation bound of a model being loaded (off: no
// bound); buildMu serialises builds so that one load's bound never meets
// another build's params.
var (
	buildMu     sync.Mutex
	paramBudget budget
)

type budget struct {
	on   bool
	left int
}

func (b *budget) take(name string, n int) {
	if !b.on {
		return
	}
	if n > b.left {
		panic(errTooLarge{fmt.Sprintf("parameter %s of %d weights (more than the file holds)", name, n)})
	}
	b.left -= n
}

// Size is the number of elements of a shape.
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// InitNormal fills p with N(mean, std²) draws from rng.
func (p *Param) InitNormal(rng *rand.Rand, mean, std float64) {
	for i := range p.Data {
		p.Data[i] = float32(mean + std*rng.NormFloat64())
	}
}

// InitHe fills p with He-normal weights for the given fan-in (ReLU layers).
func (p *Param) InitHe(rng *rand.Rand, fanIn int) {
	p.InitNormal(rng, 0, math.Sqrt(2/float64(fanIn)))
}

// InitGlorot fills p with Glorot-uniform weights.
func (p *Param) InitGlorot(rng *rand.Rand, fanIn, fanOut int) {
	limit := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range p.Data {
		p.Data[i] = float32((2*rng.Float64() - 1) * limit)
	}
}

// Fill sets every element to v.
func (p *Param) Fill(v float32) {
	for i := range p.Data {
		p.Data[i] = v
	}
}

// CountParams sums the sizes of ps.
func CountParams(ps []*Param) int {
	n := 0
	for _, p := range ps {
		n += len(p.Data)
	}
	return n
}

func checkUniqueNames(ps []*Param) error {
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Name] {
			return fmt.Errorf("duplicate parameter name %q", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// SparseGrad is the gradient of a row-sparse Param (an embedding table of
// Rows×Cols): only the rows an op touched in the last step hold values, and
// the optimizer updates only those rows. An op adds into it with Add32 or
// Add64; the trainer clears the touched rows after each update.
type SparseGrad struct {
	Rows, Cols int
	Touched    []int // rows with a gradient, in first-touch order
	mark       []bool
	G32        []float32 // Rows×Cols, allocated on first use
	G64        []float64
}

// NewSparseGrad makes an empty gradient for a Rows×Cols table.
func NewSparseGrad(rows, cols int) *SparseGrad {
	return &SparseGrad{Rows: rows, Cols: cols, mark: make([]bool, rows)}
}

func (s *SparseGrad) touch(r int) {
	if !s.mark[r] {
		s.mark[r] = true
		s.Touched = append(s.Touched, r)
	}
}

// Add32 adds v (Cols values) into row r.
func (s *SparseGrad) Add32(r int, v []float32) { s.touch(r); addRow(&s.G32, s.Rows, s.Cols, r, v) }

// Add64 adds v (Cols values) into row r.
func (s *SparseGrad) Add64(r int, v []float64) { s.touch(r); addRow(&s.G64, s.Rows, s.Cols, r, v) }

// addRow adds v into row r of a rows×cols buffer, allocated on first use.
func addRow[T float32 | float64](buf *[]T, rows, cols, r int, v []T) {
	if *buf == nil {
		*buf = make([]T, rows*cols)
	}
	row := (*buf)[r*cols : (r+1)*cols]
	for i, x := range v {
		row[i] += x
	}
}

// Clear zeroes the touched rows and forgets them.
func (s *SparseGrad) Clear() {
	for _, r := range s.Touched {
		s.mark[r] = false
		if s.G32 != nil {
			clear(s.G32[r*s.Cols : (r+1)*s.Cols])
		}
		if s.G64 != nil {
			clear(s.G64[r*s.Cols : (r+1)*s.Cols])
		}
	}
	s.Touched = s.Touched[:0]
}

// CheckedSize is the number of elements of a shape whose sides are all
// positive and whose product stays within MaxElements; ok is false
// otherwise.
func CheckedSize(shape []int) (n int, ok bool) { return checkedSize(shape) }
