package bench

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// A postgres backend's name holds spaces and a parenthesis; utime 250, stime 50 ticks.
	line := "4242 (postgres: a (b) c) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 50 0 0 20 0 1 0 99 1000 10\n"
	d, ok := parseStatCPU([]byte(line))
	require.True(t, ok)
	assert.Equal(t, 3*time.Second, d)
	for _, bad := range []string{"", "4242 postgres S 1", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 u 50"} {
		_, ok := parseStatCPU([]byte(bad))
		assert.False(t, ok, "%q", bad)
	}
}

func TestProcCPUGrowsWithWork(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc: Linux only")
	}
	before, ok := procCPU(os.Getpid())
	require.True(t, ok)
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after, ok := procCPU(os.Getpid())
	require.True(t, ok)
	assert.Greater(t, after, before, "CPU time counted (%d loops)", x)
	_, ok = procCPU(-1)
	assert.False(t, ok, "no such process")
}
