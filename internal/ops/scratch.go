package ops

import "sync"

// scratch keeps an op's work buffers from one run to the next, one set per
// worker, so memory stays flat after the first step.
type scratch struct {
	mu  sync.Mutex
	f32 map[int][]float32
	f64 map[int][]float64
}

// get returns a buffer of at least size elements for slot (worker and
// purpose); its contents are whatever the last user left.
func get[T Float](s *scratch, slot, size int) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero T
	switch any(zero).(type) {
	case float32:
		if s.f32 == nil {
			s.f32 = map[int][]float32{}
		}
		if len(s.f32[slot]) < size {
			s.f32[slot] = make([]float32, size)
		}
		return any(s.f32[slot][:size]).([]T)
	default:
		if s.f64 == nil {
			s.f64 = map[int][]float64{}
		}
		if len(s.f64[slot]) < size {
			s.f64[slot] = make([]float64, size)
		}
		return any(s.f64[slot][:size]).([]T)
	}
}
