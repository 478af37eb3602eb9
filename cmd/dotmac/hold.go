package main

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
)

// holdTenant holds tenant for the process managers (process.Holds) while tool records its
// history, until the returned release is called, renewing the hold meanwhile; release reports
// a renewal that failed.
func holdTenant(ctx context.Context, holds *process.Holds, tenant domain.TenantID, tool string) (release func() error, err error) {
	holder := tool + " " + uuid.Must(uuid.NewV7()).String()
	reason := tool + " records the tenant's history"
	if err := holds.Hold(ctx, tenant, holder, reason, process.DefaultHoldTTL); err != nil {
		return nil, err
	}
	keepCtx, stop := context.WithCancel(ctx)
	kept := make(chan error, 1)
	go func() { kept <- holds.Keep(keepCtx, tenant, holder, reason, process.DefaultHoldTTL) }()
	return func() error {
		stop()
		keepErr := <-kept
		// The seed's own context may have ended: release on a fresh one.
		relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return errors.Join(keepErr, holds.Release(relCtx, tenant, holder))
	}, nil
}
