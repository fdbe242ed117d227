// Package registry is the by-name registry behind core's towers, heads,
// decoders and domains and core/train's optimizers and schedules: register
// once (a second registration panics, as database/sql's Register does),
// look up, list.
package registry

import (
	"sort"
	"sync"
)

// Registry maps names to values of one kind.
type Registry[V any] struct {
	what string // for the panic: "tower", "optimizer", …
	mu   sync.RWMutex
	m    map[string]V
}

// New makes an empty registry of what.
func New[V any](what string) *Registry[V] {
	return &Registry[V]{what: what, m: map[string]V{}}
}

// Register adds v under name; it panics if name is taken.
func (r *Registry[V]) Register(name string, v V) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic(r.what + " " + name + " registered twice")
	}
	r.m[name] = v
}

// Get returns the value of name.
func (r *Registry[V]) Get(name string) (V, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// Names lists the registered names in order.
func (r *Registry[V]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for k := range r.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
