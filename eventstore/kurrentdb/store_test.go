package kurrentdb_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/conformance"
	"github.com/dotmac/ledger/eventstore/kurrentdb"
)

// The conformance suite runs against a real KurrentDB node whenever KURRENTDB_URL is set, for
// example (deploy/compose.yaml starts one):
//
//	KURRENTDB_URL='esdb://127.0.0.1:2113?tls=false' go test ./eventstore/kurrentdb/...
//
// Use a node dedicated to tests: the suite writes test-* streams it never deletes.

const skipMessage = "KURRENTDB_URL is not set, so the KurrentDB conformance suite was skipped " +
	"(start a node with `docker compose -f deploy/compose.yaml up -d kurrentdb` and run " +
	"KURRENTDB_URL='esdb://127.0.0.1:2113?tls=false' go test ./eventstore/kurrentdb/...)"

func kurrentURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("KURRENTDB_URL")
	if url == "" {
		tb.Skip(skipMessage)
	}
	return url
}

// oneAtATime serializes the suite's tests. The suite asks for a store no other test writes to
// while the test runs; a KurrentDB node has one $all that no store can be given alone. Every suite test that looks at
// $all (ReadAll, Head, subscriptions) takes the Head first and only looks after it, so it holds
// on a shared node as long as no other test writes meanwhile: the factory hands out one store
// at a time, held until the test (and its cleanups) ends. Tests wait in the factory, before
// their own timeouts start.
var oneAtATime = make(chan struct{}, 1)

func factory(tb testing.TB) eventstore.Store {
	url := kurrentURL(tb)
	oneAtATime <- struct{}{}
	tb.Cleanup(func() { <-oneAtATime })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := kurrentdb.Open(ctx, url, kurrentdb.Config{})
	require.NoError(tb, err)
	tb.Cleanup(s.Close) // runs before the release above: cleanups run last-in, first-out
	return s
}

func TestConformance(t *testing.T) {
	kurrentURL(t)
	conformance.Run(t, factory, conformance.Limitations{EventIDsPerStreamOnly: true})
}

func TestRace(t *testing.T) {
	kurrentURL(t)
	conformance.RunRace(t, factory, conformance.RaceConfig{})
}
