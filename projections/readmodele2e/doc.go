// Package readmodele2e runs the real read models (package projections/readmodel) through the
// projection runtime end to end: events stored in es_events, projected live, rebuilt, and
// compared. It holds tests and benchmarks only:
//
//	go test ./projections/readmodele2e/
//	DOTMAC_BENCH_EVENTS=1000000 go test -run '^$' -bench . -benchtime 2x ./projections/readmodele2e/
package readmodele2e
