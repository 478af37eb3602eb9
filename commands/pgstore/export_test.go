package pgstore

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/commands"
)

// SynchronousCommitOf returns synchronous_commit as a statement run with async sees it.
func SynchronousCommitOf(ctx context.Context, pool *pgxpool.Pool, async bool) (string, error) {
	return SettingOf(ctx, pool, async, false, "synchronous_commit")
}

// SettingOf returns the setting name as a statement run with async and generic sees it.
func SettingOf(ctx context.Context, pool *pgxpool.Pool, async, generic bool, name string) (string, error) {
	var s string
	err := queryRow(ctx, pool, settings{async: async, generic: generic}, []any{&s}, "SELECT current_setting($1)", name)
	return s, err
}

// Completion is one completion of WriteTogether.
type Completion struct {
	Key       string
	CommandID uuid.UUID
	Response  commands.StoredResponse
}

// WriteTogether runs claims of claimKeys (each with hash) and completions in one grouped
// write, as requests arriving at the same moment would be, and returns which claims won.
func (k *Keys) WriteTogether(ctx context.Context, tenant string, claimKeys []string, hash [32]byte, completes []Completion) ([]bool, error) {
	var items []keyWrite
	for _, key := range claimKeys {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		items = append(items, keyWrite{claim: &claimItem{tenant: tenant, key: key, hash: hash, commandID: id}})
	}
	for _, c := range completes {
		items = append(items, keyWrite{complete: &completeItem{tenant: tenant, key: c.Key, commandID: c.CommandID, r: c.Response}})
	}
	outs, err := k.write(ctx, items)
	if err != nil {
		return nil, err
	}
	won := make([]bool, len(claimKeys))
	for i := range claimKeys {
		won[i] = outs[i].won
	}
	return won, nil
}
