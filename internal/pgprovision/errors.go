package pgprovision

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// DatabaseURLError reports that DATABASE_URL is set but cannot be used. Provision never falls
// back to another server in that case: a configured server that is down is an outage to see,
// not something to paper over with a different, empty database.
type DatabaseURLError struct {
	URL string // the URL without its password; "" if it could not be parsed
	Err error
}

func (e *DatabaseURLError) Error() string {
	cause := oneLine(e.Err.Error())
	switch {
	case e.URL == "":
		return "DATABASE_URL cannot be parsed: " + cause
	case e.Unreachable():
		return fmt.Sprintf("DATABASE_URL %s is unreachable: %s", e.URL, cause)
	default:
		return fmt.Sprintf("DATABASE_URL %s cannot be used: %s", e.URL, cause)
	}
}

// oneLine joins a multi-line message into one line: pgx puts each connection attempt on its
// own line after "failed to connect to ...:".
func oneLine(s string) string {
	var parts []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return parts[0] + " " + strings.Join(parts[1:], "; ")
}

func (e *DatabaseURLError) Unwrap() error { return e.Err }

// Unreachable reports whether no server answered at all (as opposed to a server that answered
// and refused: wrong password, no such role, no right to create the database).
func (e *DatabaseURLError) Unreachable() bool { return isUnreachable(e.Err) }

// NotFoundError reports that no local server answered and no PostgreSQL binaries were found to
// start a private cluster with. Its message is one sentence saying what to do.
type NotFoundError struct {
	Addrs   []string // the local addresses probed
	DataDir string   // where a private cluster would have gone, as configured
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no PostgreSQL found: set DATABASE_URL, start a server on %s, "+
		"or install PostgreSQL (Debian: apt-get install postgresql) "+
		"so dotmac can start a private one under %s",
		strings.Join(e.Addrs, " or "), e.DataDir)
}

// ClusterError reports that the private cluster could not be set up, started, used or stopped.
type ClusterError struct {
	DataDir string // absolute
	Op      string // what failed: "initdb", "pg_ctl start", "create database", ...
	Detail  string // the last lines of the tool's output or the server log; may be ""
	Err     error
}

func (e *ClusterError) Error() string {
	msg := fmt.Sprintf("private PostgreSQL cluster under %s: %s: %v", e.DataDir, e.Op, e.Err)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

func (e *ClusterError) Unwrap() error { return e.Err }

// isUnreachable reports whether err is a failed connection attempt that no server answered.
func isUnreachable(err error) bool {
	var connErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	return errors.As(err, &connErr) && !errors.As(err, &pgErr)
}
