package ops

import (
	"sync"
	"unsafe"
)

// scratch keeps an op's work buffers from one run to the next, one set per
// worker, so memory stays flat after the first step.
type scratch struct {
	mu  sync.Mutex
	f32 map[int][]float32
	f64 map[int][]float64
}

// get returns a buffer of at least size elements for slot (worker and
// purpose); its contents are whatever the last user left. (The slice is
// cast, not boxed in an interface: boxing was an allocation per call.)
func get[T Float](s *scratch, slot, size int) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero T
	if unsafe.Sizeof(zero) == 4 {
		if s.f32 == nil {
			s.f32 = map[int][]float32{}
		}
		if len(s.f32[slot]) < size {
			s.f32[slot] = make([]float32, size)
		}
		return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s.f32[slot]))), size)
	}
	if s.f64 == nil {
		s.f64 = map[int][]float64{}
	}
	if len(s.f64[slot]) < size {
		s.f64[slot] = make([]float64, size)
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s.f64[slot]))), size)
}
