package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
)

// TestConcurrentKeysReplayTheirOwnResponses: claims and completions of many requests at once
// (grouped into few statements) each win their own key and store their own response, which a
// retry gets back exactly, headers that JSON escapes included.
func TestConcurrentKeysReplayTheirOwnResponses(t *testing.T) {
	t.Parallel()
	pool := mustPool(t)
	ctx := context.Background()
	keys := pgstore.NewKeys(pool, pgstore.KeysConfig{})
	acme := tenant(t, "acme")
	const n = 40
	responseOf := func(i int) commands.StoredResponse {
		return commands.StoredResponse{Status: 200 + i%3, Body: fmt.Appendf(nil, "{\"n\":%d}\n", i), Headers: map[string]string{
			"ETag": fmt.Sprintf(`"%d"`, i), "Location": fmt.Sprintf(`/v1/x/%d?q="a\b"&é`, i)}}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := fmt.Sprintf("k%d", i)
			c, err := keys.Claim(ctx, acme, k, hash(byte(i)))
			if assert.NoError(t, err) && assert.Nil(t, c.Replay) {
				assert.NoError(t, keys.Complete(ctx, acme, k, c.CommandID, responseOf(i)))
			}
		})
	}
	wg.Wait()
	for i := range n {
		again, err := keys.Claim(ctx, acme, fmt.Sprintf("k%d", i), hash(byte(i)))
		require.NoError(t, err)
		require.NotNil(t, again.Replay, "k%d", i)
		assert.Equal(t, responseOf(i), *again.Replay)
	}
}
