package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
)

// TestServeWarnsOfRiskySettings: a server whose sessions run with synchronous_commit off
// says, at warn level, what that puts at risk; with it on, it says nothing of it.
func TestServeWarnsOfRiskySettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	for sc, warned := range map[string]bool{"off": true, "on": false} {
		conn, err := pool.Acquire(ctx)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, "SET synchronous_commit = "+sc)
		require.NoError(t, err)
		var out bytes.Buffer
		warnRiskySettings(ctx, zerolog.New(&out), conn)
		conn.Release()
		line := ""
		for l := range strings.Lines(out.String()) {
			if strings.Contains(l, `"setting":"synchronous_commit"`) {
				line = l
			}
		}
		if !warned {
			assert.Empty(t, line, "synchronous_commit=on warns nothing of it")
			continue
		}
		assert.Contains(t, line, `"level":"warn"`)
		assert.Contains(t, line, "turns it on for its own appends")
	}
}
