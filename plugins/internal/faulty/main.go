// Command faulty is a test plugin: the glyphs domain, made to crash or hang
// after a number of training batches (SIAMESE_FAULT=crash:N or hang:N), to
// test how the host copes.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/glyphs"
	"github.com/siamesenet/siamese/plugins"
)

type faulty struct {
	core.Domain
	mode  string
	after int
}

type stream struct {
	core.Stream
	f *faulty
	n int
}

func (s *stream) Next(ctx context.Context) (*core.Batch, error) {
	if s.n == s.f.after {
		switch s.f.mode {
		case "crash":
			fmt.Fprintln(os.Stderr, "faulty plugin: crashing on purpose")
			os.Exit(3)
		case "hang":
			fmt.Fprintln(os.Stderr, "faulty plugin: hanging on purpose")
			time.Sleep(time.Hour)
		}
	}
	s.n++
	return s.Stream.Next(ctx)
}

func (f *faulty) Pairs(ctx context.Context, req core.PairRequest) (core.Stream, error) {
	st, err := f.Domain.Pairs(ctx, req)
	if err != nil {
		return nil, err
	}
	return &stream{Stream: st, f: f}, nil
}

func main() {
	plugins.Serve(plugins.Config{Name: "faulty", Version: "0.0.1", Open: func(o core.DomainOptions) (core.Domain, error) {
		d, err := glyphs.Open(glyphs.Options{TrainClasses: 40, ValClasses: 20, TestClasses: 20, PerClass: 6, TestEpisodes: 5, ValEpisodes: 5})
		if err != nil {
			return nil, err
		}
		mode, n, _ := strings.Cut(os.Getenv("SIAMESE_FAULT"), ":")
		after, _ := strconv.Atoi(n)
		return &faulty{Domain: d, mode: mode, after: after}, nil
	}})
}
