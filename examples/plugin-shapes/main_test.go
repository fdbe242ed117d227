package main

import (
	"testing"

	"github.com/siamesenet/siamese/core/coretest"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/towers/cnn"
)

// The third-party domain passes the conformance suite every domain does.
func TestShapesDomain(t *testing.T) { coretest.TestDomain(t, domain{}) }

// A shape name decodes to the drawing of that class; anything else is an
// error that says what is wanted.
func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{{"5", true}, {"7 star", true}, {" 3\n", true}, {"2", false}, {"10", false}, {"5 moon", false}, {"", false}, {"x", false}} {
		it, err := domain{}.Decode([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && len(it.Dense) != side*side) {
			t.Errorf("Decode(%q): %d values, %v", tc.in, len(it.Dense), err)
		}
	}
}
