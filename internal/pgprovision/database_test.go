package pgprovision

import (
	"strings"
	"sync"
	"testing"
)

// Several callers creating the same missing database at once all succeed (the losers of the
// CREATE DATABASE race see 42P04 or 23505), round after round, and the database works.
func TestEnsureDatabaseConcurrentCallersAllSucceed(t *testing.T) {
	t.Parallel()
	skipIfShort(t)
	server := mustAnyServer(t)
	const rounds, callers = 3, 8

	for range rounds {
		db := randomName(t, "pgprovision_race")
		dropDatabaseAfter(t, server.URL, db)
		u := withDatabase(t, server.URL, db)
		errs := make([]error, callers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				<-start
				errs[i] = EnsureDatabase(testContext(t), u)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("caller %d: %v", i, err)
			}
		}
		mustSelectOne(t, u)
	}
}

func TestEnsureDatabaseRejectsUnparsableURL(t *testing.T) {
	t.Parallel()
	err := EnsureDatabase(testContext(t), "postgres://u:secret@[::1/db")
	if err == nil || !strings.HasPrefix(err.Error(), "parse database url: ") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v, want a parse error without the password", err)
	}
}

func TestDescribeOmitsPassword(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://ledger:s3cret@db.example:6543/books":     "postgres://ledger@db.example:6543/books",
		"host=db.example user=ledger password=s3cret":        "postgres://ledger@db.example:5432/ledger",
		"postgres://ledger:s3cret@/books?host=/run/pg":       "postgres://ledger@/books?host=%2Frun%2Fpg",
		"postgres://ledger@[::1]:5433/books?sslmode=disable": "postgres://ledger@[::1]:5433/books",
	} {
		cfg, err := parseConfig(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(cfg); got != want {
			t.Errorf("describe(%q) = %q, want %q", in, got, want)
		}
	}
}
