package postgres_test

import (
	"runtime"
	"strconv"

	"github.com/google/uuid"
)

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func itoa(n int) string { return strconv.Itoa(n) }

func benchProcs() int { return runtime.GOMAXPROCS(0) }
