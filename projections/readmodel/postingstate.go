package readmodel

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// postingStates keeps each customer's domain.PostingState (open invoices' issue dates, credit
// by the date it arose) between batches, in a table of the read model, so that its journal
// entries are dated as domain.Poster dates them: a settlement no earlier than the invoice it
// settles and the credit it uses.
type postingStates struct {
	table  *table
	load   string
	held   map[key]*heldPosting
	toLoad []key
}

type heldPosting struct {
	state domain.PostingState
	dirty bool
}

// postingStateSchema is the table of a read model's posting states.
func postingStateSchema(name string) string {
	return `CREATE TABLE ` + name + ` (
    tenant_id   text  NOT NULL,
    customer_id uuid  NOT NULL,
    state       jsonb NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
`
}

func newPostingStates(name string) *postingStates {
	return &postingStates{
		table: newTable(name, []string{"tenant_id", "customer_id"},
			column{"tenant_id", "text"}, column{"customer_id", "uuid"}, column{"state", "jsonb"}),
		load: `SELECT s.tenant_id, s.customer_id, s.state FROM ` + byKeys(name, "s", "tenant_id text", "customer_id uuid"),
		held: map[key]*heldPosting{},
	}
}

// need notes that ev's customer's state is needed, when ev is a customer's money event.
func (p *postingStates) need(ev *projections.Event) error {
	customer, ok := domain.PostingCustomer(ev.Payload)
	if !ok {
		return nil
	}
	t, err := tenantOf(ev)
	if err != nil {
		return err
	}
	k := key{t, customer.UUID()}
	if p.held[k] == nil {
		p.held[k] = &heldPosting{}
		p.toLoad = append(p.toLoad, k)
	}
	return nil
}

// read loads the states need asked for that the table holds.
func (p *postingStates) read(ctx context.Context, tx pgx.Tx) error {
	if len(p.toLoad) == 0 {
		return nil
	}
	defer func() { p.toLoad = p.toLoad[:0] }()
	tenants, ids := make([]string, len(p.toLoad)), make([]pgtype.UUID, len(p.toLoad))
	for i, k := range p.toLoad {
		tenants[i], ids[i] = k.tenant, pgUUID(k.id)
	}
	rows, err := tx.Query(ctx, p.load, tenants, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k key
		var data []byte
		if err := rows.Scan(&k.tenant, &k.id, &data); err != nil {
			return err
		}
		h := p.held[k]
		if h == nil {
			continue
		}
		if err := json.Unmarshal(data, &h.state); err != nil {
			return fmt.Errorf("posting state of customer %s: %w", k.id, err)
		}
	}
	return rows.Err()
}

// post returns ev's dated journal entries (domain.PostingState.Post for a customer's money
// event, else domain.Postings' entry), after need and read.
func (p *postingStates) post(ev *projections.Event, t string) ([]domain.JournalEntry, error) {
	customer, ok := domain.PostingCustomer(ev.Payload)
	if !ok {
		entry, ok, err := domain.Postings(ev.Payload)
		if err != nil || !ok {
			return nil, err
		}
		return []domain.JournalEntry{entry}, nil
	}
	h := p.held[key{t, customer.UUID()}]
	if h == nil {
		return nil, fmt.Errorf("invariant: posting state of customer %s not read", customer)
	}
	h.dirty = true
	return h.state.Post(ev.Payload)
}

// count is how many states it holds.
func (p *postingStates) count() int { return len(p.held) }

// write inserts or updates the states that changed, and lets them all go.
func (p *postingStates) write(ctx context.Context, tx pgx.Tx) error {
	var rows copyRows
	for k, h := range p.held {
		if !h.dirty {
			continue
		}
		data, err := json.Marshal(&h.state)
		if err != nil {
			return err
		}
		rows.row(3)
		rows.text(k.tenant)
		rows.uuid(k.id)
		rows.jsonb(data)
	}
	clear(p.held)
	return p.table.upsertUsing(ctx, tx, &rows, p.table.upsertWith("DO UPDATE SET state = EXCLUDED.state"))
}
