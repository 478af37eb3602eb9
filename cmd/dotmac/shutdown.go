package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/projections"
)

// projectionStatusTimeout bounds reading the projections' checkpoints for the shutdown log.
const projectionStatusTimeout = 2 * time.Second

// shutdown records the steps of a serve process's shutdown (each step's fields and how long it
// took) and logs them as one "shutdown complete" line, so an operator sees what was drained
// and where every projection stopped.
type shutdown struct {
	now   func() time.Time
	began time.Time
	steps *zerolog.Event // a Dict of step name -> fields
}

func newShutdown(now func() time.Time) *shutdown {
	return &shutdown{now: now, steps: zerolog.Dict()}
}

// stopSignal marks the moment the process was told to stop: the total counts from there.
func (s *shutdown) stopSignal() { s.began = s.now() }

// step runs fn, recording what it returns (fields of its own, which may be nil) and its
// duration under name.
func (s *shutdown) step(name string, fn func() *zerolog.Event) {
	start := s.now()
	if s.began.IsZero() {
		s.began = start
	}
	fields := fn()
	if fields == nil {
		fields = zerolog.Dict()
	}
	s.steps.Dict(name, fields.Int64("took_ms", s.now().Sub(start).Milliseconds()))
}

// log writes the "shutdown complete" line.
func (s *shutdown) log(log zerolog.Logger) {
	total := int64(0)
	if !s.began.IsZero() {
		total = s.now().Sub(s.began).Milliseconds()
	}
	log.Info().Dict("steps", s.steps).Int64("took_ms", total).Msg("shutdown complete")
}

// completionsTimeout bounds the wait for the answers still being stored under their keys.
const completionsTimeout = 5 * time.Second

// waitCompletions waits for the command API's answers still being stored under their
// idempotency keys, and returns how many it gave up on.
func waitCompletions(a *api.API) *zerolog.Event {
	ctx, cancel := context.WithTimeout(context.Background(), completionsTimeout)
	defer cancel()
	return zerolog.Dict().Int64("abandoned", a.WaitCompletions(ctx))
}

// closeBackend closes the event store and the pool, and returns how many connections were still
// in use (open transactions, queries) when it did.
func closeBackend(b *backend, log zerolog.Logger) *zerolog.Event {
	inUse := b.database.pool.Stat().AcquiredConns()
	b.close(log)
	return zerolog.Dict().Int32("connections_in_use_at_close", inUse)
}

// stopProjectors stops rt and returns each projection's checkpoint (the last batch it
// committed) and state.
func stopProjectors(rt *projections.Runtime, stop func()) *zerolog.Event {
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), projectionStatusTimeout)
	defer cancel()
	sts, err := rt.List(ctx)
	if err != nil {
		return zerolog.Dict().Str("checkpoints", "unknown: "+err.Error())
	}
	return checkpoints(sts)
}

func checkpoints(sts []projections.Status) *zerolog.Event {
	d := zerolog.Dict()
	for _, st := range sts {
		d.Dict(st.Name, zerolog.Dict().Uint64("checkpoint", uint64(st.Position)).Str("state", string(st.State)))
	}
	return zerolog.Dict().Dict("projections", d)
}
