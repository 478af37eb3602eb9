package pgprovision

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
)

// The private-cluster path: no server reachable, binaries present. Two Provision calls racing
// on a fresh data directory initialize and start one cluster; a later Provision reuses it (its
// Stop is a no-op); the starter's Stop stops it; a last Provision restarts it without a second
// initdb, with its data intact.
func TestProvisionStartsPrivateClusterThenReusesAndStopsIt(t *testing.T) {
	t.Parallel()
	skipIfShort(t)
	requireBinaries(t)
	dataDir := filepath.Join(reachableDir(t), "var", "postgres")
	var logs syncBuffer
	o := Options{
		DataDir:    dataDir,
		LocalAddrs: []string{unusedAddr(t)},
		Logger:     zerolog.New(io.MultiWriter(&logs, zerolog.NewTestWriter(t))),
	}

	racers := provisionConcurrently(t, o, 2)
	if racers[0].URL != racers[1].URL || racers[0].Source != SourcePrivate {
		t.Fatalf("racing Provisions got %s and %s from %q, want one private cluster", racers[0].URL, racers[1].URL, racers[0].Source)
	}
	url := racers[0].URL
	mustSelectOne(t, url)
	mustExec(t, url, "CREATE TABLE survives_restart (id int)")
	assertOwnedByClusterUser(t, filepath.Join(dataDir, "data"))
	assertLogged(t, &logs, map[string]int{"initialized a private PostgreSQL cluster": 1, "started a private PostgreSQL cluster": 1})

	reuser := mustProvision(t, o)
	if reuser.URL != url {
		t.Fatalf("later Provision = %s, want reuse of %s", reuser.URL, url)
	}
	if err := reuser.Stop(testContext(t)); err != nil {
		t.Fatalf("Stop of a reused cluster: %v", err)
	}
	mustSelectOne(t, url) // the reuser's Stop is a no-op

	for _, r := range racers {
		if err := r.Stop(testContext(t)); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "data", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("postmaster.pid after Stop: %v, want it gone", err)
	}
	if err := EnsureDatabase(testContext(t), url); !isUnreachable(err) {
		t.Fatalf("connect after Stop: %v, want unreachable", err)
	}

	restarted := mustProvision(t, o)
	mustExec(t, restarted.URL, "SELECT count(*) FROM survives_restart")
	assertLogged(t, &logs, map[string]int{"initialized a private PostgreSQL cluster": 1, "started a private PostgreSQL cluster": 2})
}

// DATABASE_URL set but unreachable: a *DatabaseURLError that says so in one sentence without
// the password, and nothing else is tried (no private cluster appears).
func TestProvisionUnreachableDatabaseURLIsTypedAndDoesNotFallBack(t *testing.T) {
	t.Parallel()
	addr := unusedAddr(t)
	dataDir := filepath.Join(t.TempDir(), "postgres")

	_, err := Provision(testContext(t), Options{
		DatabaseURL: "postgres://ledger:s3cret@" + addr + "/ledger",
		DataDir:     dataDir,
	})

	var urlErr *DatabaseURLError
	if !errors.As(err, &urlErr) || !urlErr.Unreachable() {
		t.Fatalf("err = %#v, want an unreachable *DatabaseURLError", err)
	}
	wantPrefix := "DATABASE_URL postgres://ledger@" + addr + "/ledger is unreachable: "
	if msg := err.Error(); !strings.HasPrefix(msg, wantPrefix) || strings.Contains(msg, "s3cret") || strings.Contains(msg, "\n") {
		t.Fatalf("message = %q, want one line starting %q, without the password", msg, wantPrefix)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data directory exists (%v): Provision fell back to a private cluster", err)
	}
}

// A DATABASE_URL that cannot be parsed is a *DatabaseURLError too.
func TestProvisionUnparsableDatabaseURL(t *testing.T) {
	t.Parallel()
	_, err := Provision(testContext(t), Options{DatabaseURL: "postgres://ledger:pw@[::1/ledger"})
	var urlErr *DatabaseURLError
	if !errors.As(err, &urlErr) || !strings.HasPrefix(err.Error(), "DATABASE_URL cannot be parsed: ") {
		t.Fatalf("err = %v, want a parse *DatabaseURLError", err)
	}
}

// Nothing reachable and no binaries: a *NotFoundError whose message is the one sentence
// telling the operator the three ways out. Nothing is created.
func TestProvisionNothingFoundSaysWhatToDo(t *testing.T) {
	t.Parallel()
	addr := unusedAddr(t)
	dataDir := filepath.Join(t.TempDir(), "var", "postgres")

	_, err := Provision(testContext(t), Options{
		LocalAddrs: []string{addr},
		BinDirs:    []string{t.TempDir()},
		DataDir:    dataDir,
	})

	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want *NotFoundError", err)
	}
	want := "no PostgreSQL found: set DATABASE_URL, start a server on " + addr +
		", or install PostgreSQL (Debian: apt-get install postgresql) so dotmac can start a private one under " + dataDir
	if err.Error() != want {
		t.Fatalf("message:\n got %q\nwant %q", err.Error(), want)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data directory exists (%v), want nothing created", err)
	}
}

// A server answering on a candidate local address is used (after an unreachable one), as
// user postgres, and the requested database is created there; no binaries are needed.
func TestProvisionUsesLocalServer(t *testing.T) {
	t.Parallel()
	skipIfShort(t)
	server := mustAnyServer(t)
	cfg, err := pgx.ParseConfig(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	db := randomName(t, "pgprovision_local")

	res := mustProvision(t, Options{
		Database:   db,
		LocalAddrs: []string{unusedAddr(t), addr},
		BinDirs:    []string{},
		DataDir:    filepath.Join(t.TempDir(), "unused"),
	})
	dropDatabaseAfter(t, res.URL, db)

	if want := loopbackURL("postgres", addr, db); res.Source != SourceLocal || res.URL != want {
		t.Fatalf("got %s from %q, want %s from %q", res.URL, res.Source, want, SourceLocal)
	}
	mustSelectOne(t, res.URL)
}

func TestOptionsRejectLongDatabaseName(t *testing.T) {
	t.Parallel()
	_, err := Provision(testContext(t), Options{Database: strings.Repeat("x", maxDatabaseNameLen+1)})
	if err == nil || !strings.Contains(err.Error(), "longer than 63 bytes") {
		t.Fatalf("err = %v, want a name-too-long error", err)
	}
}
