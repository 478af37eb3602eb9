package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dotmac/ledger/eventstore"
)

// errStoreClosed is the cause of the *eventstore.UnavailableError every call returns after
// Close.
var errStoreClosed = errors.New("store closed")

// classify turns a client error into the store's typed errors, as the PostgreSQL backend does:
// the caller's context ending passes through (wrapped); a missing or deleted stream is
// ErrStreamNotFound; anything meaning "the node cannot be reached or cannot answer now" is
// *eventstore.UnavailableError (retryable); the rest is wrapped with op.
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}
	var esErr *esdb.Error
	if errors.As(err, &esErr) {
		return classifyCode(op, esErr.Code(), err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	// The client returns a few gRPC errors unwrapped (a read that fails before its first
	// message, for one).
	if _, ok := status.FromError(err); ok {
		return classifyStatus(op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func classifyCode(op string, code esdb.ErrorCode, err error) error {
	switch code {
	case esdb.ErrorCodeResourceNotFound, esdb.ErrorCodeStreamDeleted:
		return fmt.Errorf("%s: %w (%w)", op, eventstore.ErrStreamNotFound, err)
	case esdb.ErrorUnavailable, esdb.ErrorCodeConnectionClosed, esdb.ErrorCodeDeadlineExceeded,
		esdb.ErrorCodeNotLeader, esdb.ErrorAborted:
		// NotLeader: the client is already reconnecting to the leader; Aborted: the server
		// gave up on the request (timeout inside the node). Both succeed on retry.
		return &eventstore.UnavailableError{Op: op, Err: err}
	case esdb.ErrorCodeUnknown:
		return classifyStatus(op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// classifyStatus looks at the gRPC status under an error the client could not classify.
func classifyStatus(op string, err error) error {
	st := grpcStatus(err)
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
		return &eventstore.UnavailableError{Op: op, Err: err}
	case codes.InvalidArgument:
		if strings.Contains(strings.ToLower(st.Message()), "maximum append size") {
			return fmt.Errorf("%s: %w", op, &eventstore.InvalidInputError{Field: "events",
				Reason: "the append is larger than the server's --max-append-size (" + st.Message() + ")"})
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// grpcStatus finds the gRPC status in err's chain (status.FromError only looks at the top).
func grpcStatus(err error) *status.Status {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if st, ok := status.FromError(e); ok {
			return st
		}
	}
	return status.New(codes.Unknown, err.Error())
}

// isWrongExpectedVersion reports whether err is the server refusing an append's expected
// revision.
func isWrongExpectedVersion(err error) bool {
	var esErr *esdb.Error
	return errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeWrongExpectedVersion
}

// isConnectionClosed reports whether the client gave up for good: after a failed node
// discovery (the node unreachable for longer than maxDiscoverAttempts × discoveryInterval)
// esdb.Client closes itself and answers every later call with ErrorCodeConnectionClosed.
func isConnectionClosed(err error) bool {
	var esErr *esdb.Error
	return errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeConnectionClosed
}

// The client reports a wrong expected version only in its message:
// "wrong expected version: expecting '<expected>' but got '<current>'", where current is
// "no_stream" or the stream's current revision (0-based).
var currentRevisionRe = regexp.MustCompile(`but got '([^']*)'`)

// actualVersion extracts the stream's version (1-based; 0: no stream) from a wrong expected
// version error, and false when the message does not say.
func actualVersion(err error) (uint64, bool) {
	m := currentRevisionRe.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	if m[1] == "no_stream" {
		return 0, true
	}
	rev, perr := strconv.ParseUint(m[1], 10, 64)
	if perr != nil {
		return 0, false
	}
	return versionOf(rev), true
}
