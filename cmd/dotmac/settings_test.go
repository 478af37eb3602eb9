package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestServeWarnsOfRiskySettings: a server whose sessions run with synchronous_commit off
// says, at warn level, what that puts at risk; with it on, it says nothing of it.
func TestServeWarnsOfRiskySettings(t *testing.T) {
	t.Parallel()
	url := pgtest.DatabaseURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	ctx := context.Background()
	for sc, warned := range map[string]bool{"off": true, "on": false} {
		pool, err := db.Open(ctx, url+sep+"synchronous_commit="+sc, db.Options{})
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		var out bytes.Buffer
		warnRiskySettings(ctx, zerolog.New(&out), pool)
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
		assert.Contains(t, line, "acknowledged appends")
	}
}
