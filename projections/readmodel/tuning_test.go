package readmodel_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
)

// A projection given only the events its Tuning handles ends with the same rows as one given
// every event: its filter drops nothing it uses.
func TestHandlesKeepsEveryEventUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	evs := generated(t)
	all := build(t, evs, 500)
	for _, p := range readmodel.All() {
		handles := p.Tuning().Handles
		require.NotEmpty(t, handles, p.Name())
		var only []projections.Event
		for _, e := range evs {
			if slices.Contains(handles, e.Type) {
				only = append(only, e)
			}
		}
		filtered := buildWith(t, []projections.Projection{p}, only, 500)
		diffs, err := readmodel.CompareBuilds(ctx, all, schemaOf(t, all), schemaOf(t, filtered), p.Tables())
		require.NoError(t, err)
		require.Empty(t, diffs, p.Name())
	}
}
