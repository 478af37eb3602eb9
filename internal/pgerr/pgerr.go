// Package pgerr sorts the errors of PostgreSQL and of the pgx driver into the few kinds a caller
// acts on differently: an outage to wait out (connection lost, database read-only, out of
// resources), contention to retry at once, a cancelled call, and a permanent error (a bug or a
// broken rule, retrying changes nothing). Every classifier of the project asks it, so the
// command side and the event store agree on what is an outage.
package pgerr

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Kind is what a database error means for the caller.
type Kind int

// The kinds, from "retrying is pointless" to the outages.
const (
	// Permanent: a bug, a broken constraint, bad input. Retrying gives the same error.
	Permanent Kind = iota
	// Cancelled: the caller's context ended (cancelled or past its deadline).
	Cancelled
	// Contention: the statement lost to another (serialization failure, deadlock, lock not
	// available) or ran past statement_timeout. Retrying soon usually succeeds.
	Contention
	// Connection: the server cannot be reached, refused the connection, or dropped it
	// (class 08, 57P01-57P03, 57P05, network errors, a closed pool).
	Connection
	// ReadOnly: the database accepts no writes (25006: a standby, or default_transaction_read_only).
	ReadOnly
	// OutOfResources: disk full, out of memory, too many connections (class 53) or an I/O error
	// (58030).
	OutOfResources
)

// String names the kind, as logs and problem details use it.
func (k Kind) String() string {
	switch k {
	case Cancelled:
		return "cancelled"
	case Contention:
		return "contention"
	case Connection:
		return "connection"
	case ReadOnly:
		return "read-only"
	case OutOfResources:
		return "out-of-resources"
	default:
		return "permanent"
	}
}

// Outage reports whether the kind is the database being unavailable for a while: the caller
// should answer "unavailable, retry later" rather than fail.
func (k Kind) Outage() bool { return k == Connection || k == ReadOnly || k == OutOfResources }

// Retryable reports whether the same call may succeed later: an outage or contention.
func (k Kind) Retryable() bool { return k.Outage() || k == Contention }

// Of returns the kind of err (Permanent for nil or an error that is none of the others).
func Of(err error) Kind {
	switch {
	case err == nil:
		return Permanent
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Cancelled
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return ofCode(pgErr.Code)
	}
	if lostConnection(err) {
		return Connection
	}
	return Permanent
}

// ofCode sorts a SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html).
func ofCode(code string) Kind {
	switch {
	case strings.HasPrefix(code, "08"), code == "57P01", code == "57P02", code == "57P03", code == "57P05":
		return Connection
	case code == "25006":
		return ReadOnly
	case strings.HasPrefix(code, "53"), code == "58030":
		return OutOfResources
	case code == "40001", code == "40P01", code == "55P03", code == "57014":
		return Contention
	default:
		return Permanent
	}
}

// lostConnection reports the driver's and the network's ways of saying the connection is gone.
func lostConnection(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connErr) || errors.As(err, &netErr) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	// pgx reports a closed pool or a connection lost mid-query in these words.
	msg := err.Error()
	return strings.Contains(msg, "closed pool") || strings.Contains(msg, "conn closed") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
}
