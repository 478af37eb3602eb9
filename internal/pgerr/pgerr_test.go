package pgerr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"

	"github.com/dotmac/ledger/internal/pgerr"
)

func TestOf(t *testing.T) {
	code := func(c string) error { return fmt.Errorf("append: %w", &pgconn.PgError{Code: c}) }
	tests := []struct {
		err  error
		want pgerr.Kind
	}{
		{nil, pgerr.Permanent},
		{errors.New("boom"), pgerr.Permanent},
		{code("23505"), pgerr.Permanent},
		{code("42501"), pgerr.Permanent},
		{fmt.Errorf("x: %w", context.Canceled), pgerr.Cancelled},
		{context.DeadlineExceeded, pgerr.Cancelled},
		{code("40001"), pgerr.Contention},
		{code("40P01"), pgerr.Contention},
		{code("55P03"), pgerr.Contention},
		{code("57014"), pgerr.Contention},
		{code("08006"), pgerr.Connection},
		{code("57P01"), pgerr.Connection},
		{code("57P03"), pgerr.Connection},
		{io.ErrUnexpectedEOF, pgerr.Connection},
		{errors.New("closed pool"), pgerr.Connection},
		{code("25006"), pgerr.ReadOnly},
		{code("53100"), pgerr.OutOfResources},
		{code("53200"), pgerr.OutOfResources},
		{code("53300"), pgerr.OutOfResources},
		{code("58030"), pgerr.OutOfResources},
	}
	for _, tc := range tests {
		got := pgerr.Of(tc.err)
		assert.Equal(t, tc.want, got, "%v", tc.err)
		assert.Equal(t, got == pgerr.Connection || got == pgerr.ReadOnly || got == pgerr.OutOfResources, got.Outage(), "%v", tc.err)
	}
}
