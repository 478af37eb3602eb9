package readmodel

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/projections"
)

// MRR projects what each service adds to monthly recurring revenue, as date ranges
// (mrr_segments): a segment says that from valid_from up to valid_to (exclusive; NULL: open)
// the service is billable (domain.ServiceState.BillableOn: activated, not past its last day,
// not suspended unless its plan bills while suspended) on one plan at that plan's monthly
// price.
//
// The MRR of a month is the sum of the monthly prices of the services billable on the
// month's last day, at the plan in force that day; the query API derives new, reactivated,
// expansion, contraction and churned MRR and ARPU from the segments at query time, so
// effective dates in the future or the past (a termination dated ahead, a plan change from
// the 16th) are counted in the month they take effect.
//
// A service's segments are recomputed from its whole history whenever it changes: the
// projection keeps each service's events (mrr_services.history, a private table) and folds
// them with domain.FoldService.
type MRR struct{}

var _ projections.Projection = MRR{}

// Name returns "mrr".
func (MRR) Name() string { return NameMRR }

// Version returns 1.
func (MRR) Version() int { return 1 }

// Tables returns the table the query API reads (mrr_services is the fold's own state).
func (MRR) Tables() []string { return []string{"mrr_segments"} }

const mrrSchema = `
CREATE TABLE mrr_services (
    tenant_id   text   NOT NULL,
    service_id  uuid   NOT NULL,
    customer_id uuid   NOT NULL,
    history     jsonb  NOT NULL,
    position    bigint NOT NULL,
    PRIMARY KEY (tenant_id, service_id)
);
CREATE TABLE mrr_segments (
    tenant_id     text    NOT NULL,
    service_id    uuid    NOT NULL,
    seq           integer NOT NULL,
    customer_id   uuid    NOT NULL,
    plan_code     text    NOT NULL,
    plan_name     text    NOT NULL,
    currency      text    NOT NULL,
    monthly_price numeric NOT NULL,
    valid_from    date    NOT NULL,
    valid_to      date,
    first_month   date,
    PRIMARY KEY (tenant_id, service_id, seq)
);
`

// Setup creates mrr_services and mrr_segments.
func (MRR) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, mrrSchema)
	return err
}

// mrrIndexes are the secondary indexes the query API reads by (Apply uses primary keys only).
var mrrIndexes = []string{
	`CREATE INDEX IF NOT EXISTS mrr_segments_from_idx ON mrr_segments (tenant_id, valid_from)`,
}

var (
	mrrServicesTable = newTable("mrr_services", []string{"tenant_id", "service_id"},
		column{"tenant_id", "text"}, column{"service_id", "uuid"}, column{"customer_id", "uuid"},
		column{"history", "jsonb"}, column{"position", "bigint"})
	mrrSegmentsTable = newTable("mrr_segments", []string{"tenant_id", "service_id", "seq"},
		column{"tenant_id", "text"}, column{"service_id", "uuid"}, column{"seq", "integer"}, column{"customer_id", "uuid"},
		column{"plan_code", "text"}, column{"plan_name", "text"}, column{"currency", "text"},
		column{"monthly_price", "numeric"}, column{"valid_from", "date"}, column{"valid_to", "date"},
		column{"first_month", "date"})
)

// historyItem is one stored event of a service.
type historyItem struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	// Version is the event's schema version (absent, so 0, in rows written before it was
	// kept: those were all at version 1).
	Version int `json:"version,omitempty"`
}

// mrrService is a service being folded: its history and its state.
type mrrService struct {
	key
	existed  bool
	history  []historyItem
	state    domain.ServiceState
	position int64
}

var loadMRRServices = `SELECT s.tenant_id, s.service_id, s.history FROM ` + byKeys("mrr_services", "s", "tenant_id text", "service_id uuid")

// Apply folds the batch's service events into each service's state and rewrites the
// segments of every service it touched.
func (MRR) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	keys, load, err := serviceKeys(evs)
	if err != nil {
		return err
	}
	svcs := map[key]*mrrService{}
	err = loadByKeys(ctx, tx, loadMRRServices, load, func(r pgx.Rows) error {
		s := &mrrService{existed: true}
		if err := r.Scan(&s.tenant, &s.id, &s.history); err != nil {
			return err
		}
		svcs[s.key] = s
		return s.refold()
	})
	if err != nil {
		return err
	}
	for i := range evs {
		if keys[i].id == uuid.Nil {
			continue
		}
		if err := applyMRR(svcs, keys[i], &evs[i]); err != nil {
			return err
		}
	}
	return writeMRR(ctx, tx, svcs)
}

// refold rebuilds the state from the stored history.
func (s *mrrService) refold() error {
	events := make([]domain.Event, len(s.history))
	for i, h := range s.history {
		e, err := codec.Decode(&eventstore.Envelope{Type: h.Type, SchemaVersion: max(h.Version, 1), Data: h.Data})
		if err != nil {
			return fmt.Errorf("invariant: service %s: stored %s: %w", s.id, h.Type, err)
		}
		events[i] = e
	}
	state, err := domain.FoldService(events)
	s.state = state
	return err
}

func applyMRR(svcs map[key]*mrrService, k key, ev *projections.Event) error {
	s := svcs[k]
	if s == nil {
		if _, opens := ev.Payload.(domain.ServiceProvisioned); !opens {
			return invariantf(ev, "unknown service %s", k.id)
		}
		s = &mrrService{key: k}
		svcs[k] = s
	}
	state, err := domain.ApplyService(s.state, ev.Payload)
	if err != nil {
		return invariantf(ev, "%v", err)
	}
	name, version, data, err := codec.EncodeEvent(ev.Payload)
	if err != nil {
		return fmt.Errorf("encode %s: %w", ev.Payload.EventType(), err)
	}
	s.state, s.position = state, pos(ev)
	s.history = append(s.history, historyItem{Type: name, Data: data, Version: version})
	return nil
}

const deleteSegments = `DELETE FROM mrr_segments s USING unnest($1::text[], $2::uuid[]) AS k(tenant_id, id)
WHERE s.tenant_id = k.tenant_id AND s.service_id = k.id`

func writeMRR(ctx context.Context, tx pgx.Tx, svcs map[key]*mrrService) error {
	var opened, changed, segs copyRows
	var existed []key
	for _, s := range svcs {
		history, err := json.Marshal(s.history)
		if err != nil {
			return err
		}
		states := &opened
		if s.existed {
			states = &changed
			existed = append(existed, s.key)
		}
		states.row(5)
		states.text(s.tenant)
		states.uuid(s.id)
		states.uuid(s.state.Customer.UUID())
		states.jsonb(history)
		states.int8(s.position)
		writeSegments(&segs, s)
	}
	if err := mrrServicesTable.insert(ctx, tx, &opened); err != nil {
		return err
	}
	if err := mrrServicesTable.update(ctx, tx, &changed); err != nil {
		return err
	}
	if len(existed) > 0 {
		tenants, ids := keyArgs(existed)
		if _, err := tx.Exec(ctx, deleteSegments, tenants, ids); err != nil {
			return fmt.Errorf("delete segments: %w", err)
		}
	}
	return mrrSegmentsTable.insert(ctx, tx, &segs)
}

func writeSegments(c *copyRows, s *mrrService) {
	segs := segmentsOf(s.state)
	first := firstMonth(segs)
	for i, g := range segs {
		c.row(11)
		c.text(s.tenant)
		c.uuid(s.id)
		c.int4(i + 1)
		c.uuid(s.state.Customer.UUID())
		c.text(g.plan.Code.String())
		c.text(g.plan.Name)
		c.text(g.plan.MonthlyPrice.Currency().Code())
		c.numeric(g.plan.MonthlyPrice.Amount())
		c.date(g.from)
		c.dateOrNull(g.to)
		c.dateOrNull(first)
	}
}
