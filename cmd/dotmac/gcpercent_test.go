package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestApplyGCPercent: the server's GC target is the flag's, unless GOGC is set; a target
// that means nothing is refused with the flag's name. (Not parallel: the target is the
// process's.)
func TestApplyGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	t.Setenv("GOGC", "")
	require.NoError(t, applyGCPercent(defaultGCPercent))
	assert.Equal(t, defaultGCPercent, debug.SetGCPercent(100))
	require.NoError(t, applyGCPercent(-1))
	assert.Equal(t, -1, debug.SetGCPercent(100))
	for _, bad := range []int{0, -2} {
		err := applyGCPercent(bad)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "--gc-percent")
		assert.Equal(t, 100, debug.SetGCPercent(100), "a refused target changes nothing")
	}

	t.Setenv("GOGC", "150")
	require.NoError(t, applyGCPercent(defaultGCPercent))
	assert.Equal(t, 100, debug.SetGCPercent(100), "GOGC wins")
}

// TestCheckMinConns: serve's pools keep 0 to --db-max-conns connections open; anything else
// is refused naming the flag.
func TestCheckMinConns(t *testing.T) {
	for _, ok := range [][2]int32{{0, 32}, {16, 16}, {1, 32}} {
		assert.NoError(t, checkMinConns(ok[0], ok[1]), "%v", ok)
	}
	for _, bad := range [][2]int32{{-1, 32}, {33, 32}} {
		err := checkMinConns(bad[0], bad[1])
		require.Error(t, err)
		assert.Contains(t, err.Error(), "--db-min-conns")
	}
}

// TestMainPoolWarmUp: the main pool warms its connections for the query API's reads when the
// query API reads through it, and only then.
func TestMainPoolWarmUp(t *testing.T) {
	for _, c := range []struct {
		roles   []string
		replica string
		warm    bool
	}{
		{allRoles, "", true},
		{[]string{roleQuery}, "", true},
		{[]string{roleQuery}, "postgres://replica/db", false}, // the replica's pool is warmed instead
		{[]string{roleCommand, roleProjector}, "", false},
	} {
		f := &serveFlags{}
		f.replica.url = c.replica
		assert.Equal(t, c.warm, mainPoolWarmUp(c.roles, f) != nil, "%v %q", c.roles, c.replica)
	}
}
