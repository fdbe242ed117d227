package core_test

import (
	"reflect"
	"testing"

	"github.com/siamesenet/siamese/core"
)

func TestDomainOptionsList(t *testing.T) {
	for _, tc := range []struct {
		extra map[string]string
		want  []string
		given bool
	}{
		{map[string]string{}, nil, false},
		{map[string]string{"k": "none"}, []string{}, true},
		{map[string]string{"k": ""}, []string{}, true},
		{map[string]string{"k": " a, b ,,c "}, []string{"a", "b", "c"}, true},
	} {
		got, given := core.DomainOptions{Extra: tc.extra}.List("k")
		if given != tc.given || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%v) = %q, %v; want %q, %v", tc.extra, got, given, tc.want, tc.given)
		}
	}
}
