package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dotmac/ledger/eventstore"
)

// Client errors to the port's typed errors, and configuration. No server needed.

func TestActualVersion(t *testing.T) {
	tests := []struct {
		msg   string
		want  uint64
		known bool
	}{
		{"wrong expected version: expecting '3' but got '7'", 8, true},
		{"wrong expected version: expecting 'no_stream' but got '0'", 1, true},
		{"wrong expected version: expecting '2' but got 'no_stream'", 0, true},
		{"wrong expected version: expecting 'any' but got '18446744073709551615x'", 0, false},
		{"something else entirely", 0, false},
	}
	for _, tc := range tests {
		got, known := actualVersion(errors.New(tc.msg))
		assert.Equal(t, tc.known, known, tc.msg)
		assert.Equal(t, tc.want, got, tc.msg)
	}
}

func TestClassify(t *testing.T) {
	ctx := context.Background()
	cause := errors.New("boom")
	unavailable := []esdb.ErrorCode{esdb.ErrorUnavailable, esdb.ErrorCodeConnectionClosed, esdb.ErrorCodeDeadlineExceeded,
		esdb.ErrorCodeNotLeader, esdb.ErrorAborted}
	for _, code := range unavailable {
		err := classifyCode("op", code, cause)
		var ue *eventstore.UnavailableError
		require.ErrorAs(t, err, &ue, "code %d", code)
		assert.ErrorIs(t, err, eventstore.ErrUnavailable)
		assert.ErrorIs(t, err, cause, "the client's error stays reachable")
	}
	for _, code := range []esdb.ErrorCode{esdb.ErrorCodeResourceNotFound, esdb.ErrorCodeStreamDeleted} {
		err := classifyCode("op", code, cause)
		assert.ErrorIs(t, err, eventstore.ErrStreamNotFound, "code %d", code)
		assert.NotErrorIs(t, err, eventstore.ErrUnavailable)
	}
	for _, code := range []esdb.ErrorCode{esdb.ErrorCodeAccessDenied, esdb.ErrorCodeUnauthenticated, esdb.ErrorCodeParsing} {
		err := classifyCode("op", code, cause)
		assert.NotErrorIs(t, err, eventstore.ErrUnavailable, "code %d", code)
		assert.ErrorIs(t, err, cause)
	}

	// gRPC statuses, bare or under an esdb.Error the client could not classify.
	for _, code := range []codes.Code{codes.Unavailable, codes.DeadlineExceeded, codes.Aborted} {
		st := status.Error(code, "node says no")
		assert.ErrorIs(t, classify(ctx, "op", st), eventstore.ErrUnavailable, "bare %s", code)
		wrapped, _ := esdb.FromError(fmt.Errorf("read: %w", st))
		assert.ErrorIs(t, classify(ctx, "op", wrapped), eventstore.ErrUnavailable, "wrapped %s", code)
	}
	tooBig := status.Error(codes.InvalidArgument, "Maximum Append Size of 1048576 Exceeded.")
	var inv *eventstore.InvalidInputError
	require.ErrorAs(t, classify(ctx, "append", tooBig), &inv)
	assert.Equal(t, "events", inv.Field)
	assert.NotErrorIs(t, classify(ctx, "op", status.Error(codes.InvalidArgument, "bad")), eventstore.ErrInvalidInput)

	// The caller's context ending is reported as such, whatever the client made of it.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err := classify(cctx, "op", status.Error(codes.Canceled, "context canceled"))
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, eventstore.ErrUnavailable)
	assert.ErrorIs(t, classify(ctx, "op", fmt.Errorf("x: %w", context.DeadlineExceeded)), context.DeadlineExceeded)
	assert.NoError(t, classify(ctx, "op", nil))
}

func TestCheckVersion(t *testing.T) {
	for _, ok := range []esdb.ServerVersion{{Major: 22, Minor: 10}, {Major: 23, Minor: 10}, {Major: 24, Minor: 2}, {Major: 25, Minor: 1}, {Major: 26}} {
		assert.NoError(t, checkVersion(ok), "%+v", ok)
	}
	for _, old := range []esdb.ServerVersion{{}, {Major: 21, Minor: 10}, {Major: 22, Minor: 6}, {Major: 20, Minor: 10, Patch: 5}} {
		assert.Error(t, checkVersion(old), "%+v", old)
	}
}

func TestParseURL(t *testing.T) {
	for _, raw := range []string{
		"esdb://127.0.0.1:2113?tls=false",
		"kurrentdb://127.0.0.1:2113?tls=false",
		"kurrent://127.0.0.1:2113?tls=false",
	} {
		conf, err := parseURL(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, "127.0.0.1:2113", conf.Address, raw)
		assert.True(t, conf.DisableTLS, raw)
	}
	conf, err := parseURL("kurrentdb+discover://admin:changeit@node1:2113,node2:2113")
	require.NoError(t, err)
	assert.Len(t, conf.GossipSeeds, 2)
	assert.Equal(t, "admin", conf.Username)

	_, err = parseURL("postgres://admin:s3cret-pw@host/db")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret-pw", "no password in messages")
}

func TestBackoff(t *testing.T) {
	assert.Equal(t, firstResubscribeDelay, backoff(1))
	assert.Equal(t, 2*firstResubscribeDelay, backoff(2))
	assert.Equal(t, maxResubscribeDelay, backoff(10))
	assert.Equal(t, maxResubscribeDelay, backoff(1000))
}
