package migrate

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func names(sets []Set) []string {
	out := make([]string, len(sets))
	for i, s := range sets {
		out[i] = s.Name
	}
	return out
}

// TestOrderedPutsRequiredSetsFirst: a set comes after the sets it requires, each set once.
func TestOrderedPutsRequiredSetsFirst(t *testing.T) {
	base := Set{Name: "base"}
	feed := Set{Name: "feed", Requires: []Set{base}}
	a := Set{Name: "a", Requires: []Set{feed}}
	b := Set{Name: "b", Requires: []Set{feed, base}}
	assert.Equal(t, []string{"base", "feed", "a", "b"}, names(ordered([]Set{a, b})))
	assert.Equal(t, []string{"base", "feed", "b", "a"}, names(ordered([]Set{base, b, a, feed})))
}
