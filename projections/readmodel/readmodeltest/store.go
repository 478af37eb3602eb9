package readmodeltest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
)

// AppendTo appends evs to store in their order, consecutive events of one stream in one
// append at the version they have (so the stream versions agree), and returns the store's
// position of the last one. The store assigns its own positions. Event data is the payload's
// JSON (envelopes without Data are encoded here). Appends run one at a time: it is meant for
// tests and for loading a generated history once, not for measuring the store.
func AppendTo(ctx context.Context, store eventstore.Store, evs []projections.Event) (eventstore.Position, error) {
	var last eventstore.Position
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[j].StreamID == evs[i].StreamID && j-i < eventstore.MaxEventsPerAppend {
			j++
		}
		batch := make([]eventstore.EventData, 0, j-i)
		for _, e := range evs[i:j] {
			data := e.Data
			if data == nil {
				var err error
				if data, err = json.Marshal(e.Payload); err != nil {
					return last, err
				}
			}
			batch = append(batch, eventstore.EventData{ID: e.ID, Type: e.Type, SchemaVersion: e.SchemaVersion, Data: data,
				Metadata: e.Metadata})
		}
		res, err := store.Append(ctx, evs[i].StreamID, eventstore.Exact(evs[i].Version-1), batch...)
		if err != nil {
			return last, fmt.Errorf("append %s at version %d: %w", evs[i].StreamID, evs[i].Version, err)
		}
		last, i = res.LastPosition, j
	}
	return last, nil
}
