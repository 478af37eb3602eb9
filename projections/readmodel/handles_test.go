package readmodel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
)

// A projection given only the events it Handles ends with the same rows as one given every
// event: its filter drops nothing it uses.
func TestHandlesKeepsEveryEventUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	evs := generated(t)
	all := build(t, evs, 500)
	for _, p := range readmodel.All() {
		f, ok := p.(projections.EventFilter)
		require.True(t, ok, p.Name())
		var only []projections.Event
		for _, e := range evs {
			if f.Handles(e.Type) {
				only = append(only, e)
			}
		}
		filtered := buildWith(t, []projections.Projection{p}, only, 500)
		diffs, err := readmodel.CompareBuilds(ctx, all, schemaOf(t, all), schemaOf(t, filtered), p.Tables())
		require.NoError(t, err)
		require.Empty(t, diffs, p.Name())
	}
}
