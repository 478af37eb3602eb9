package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
)

// billingRunPath is the progress of a run (GET, served by getBillingRun).
const billingRunPath = "/v1/billing-runs/{period}"

func billingRunLocation(p domain.Period) string { return "/v1/billing-runs/" + p.String() }

func billingRunRoutes() []route {
	return []route{
		{op: "runBilling", method: http.MethodPost, path: "/v1/billing-runs", permission: auth.BillingRunsWrite,
			aliases: map[string]string{"due days": "due_days"}, prepare: prepareRunBilling, storeAnswer: true},
	}
}

type runBillingJSON struct {
	Period  value `json:"period"`
	DueDays value `json:"due_days"`
}

type billedJSON struct {
	CustomerID domain.CustomerID `json:"customer_id"`
	InvoiceID  domain.InvoiceID  `json:"invoice_id"`
	Number     *string           `json:"number,omitempty"`
	Total      *domain.Money     `json:"total,omitempty"`
}

type skippedJSON struct {
	CustomerID domain.CustomerID `json:"customer_id"`
	Reason     string            `json:"reason"`
}

// billingRunBody is the answer to a billing run.
type billingRunBody struct {
	resultBody
	RunID             domain.BillingRunID `json:"run_id"`
	Period            domain.Period       `json:"period"`
	Status            string              `json:"status"`
	CustomersInvoiced int                 `json:"customers_invoiced"`
	// CustomersBillable and CustomersSkipped are set in a 202 (the run still going on).
	CustomersBillable *int          `json:"customers_billable,omitempty"`
	CustomersSkipped  *int          `json:"customers_skipped,omitempty"`
	Invoices          []billedJSON  `json:"invoices"`
	Skipped           []skippedJSON `json:"skipped"`
}

// progressReadTimeout bounds the read of a run's state for a 202 after the wait has ended.
const progressReadTimeout = 5 * time.Second

func prepareRunBilling(req *request) (command, error) {
	var in runBillingJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	c := commands.RunBilling{Period: parsed(&f, "period", in.Period, true, domain.ParsePeriod),
		DueDays: f.integer("due_days", in.DueDays, commands.DefaultDueDays, 0, commands.MaxDueDays)}
	if err := f.problem(); err != nil {
		return nil, err
	}
	wait := req.api.cfg.BillingWait
	bg := req.api.cfg.Background
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		httpx.InfoFrom(ctx).WaitsForBackground = true // the run's own wait: not the portal's latency
		location := billingRunLocation(c.Period)
		done := func(out commands.BillingRunResult, err error) (*response, error) {
			status := http.StatusOK
			if out.Changed() || startedBy(out.RunID, m.CommandID) {
				status = http.StatusCreated
			}
			return reply(out.Result, err, status, location, func(b resultBody) any {
				return runBody(b, out)
			})
		}
		if run, _, err := h.BillingRun(ctx, m.Tenant, c.Period); err != nil {
			return nil, err
		} else if run.Completed {
			return done(h.RunBilling(ctx, m, c)) // nothing left to bill: the answer at once
		}
		job, started, err := h.StartBillingJob(ctx, bg, m, c)
		if err != nil {
			return nil, err
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-job.Done():
			return done(job.Result())
		case <-timer.C:
		case <-ctx.Done():
		}
		// Still running: 202 with the progress so far; the run goes on and GET Location follows it.
		// ctx may have ended (the command's timeout): the read takes a fresh, short context so
		// that the client gets its 202 rather than a 5xx while the job runs on.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), progressReadTimeout)
		defer cancel()
		run, _, err := h.BillingRun(rctx, m.Tenant, c.Period)
		if err != nil {
			return nil, err
		}
		invoiced, skipped, billable := job.Progress()
		body := billingRunBody{resultBody: bodyOf(started), RunID: run.ID, Period: c.Period, Status: commands.BillingRunRunning,
			CustomersInvoiced: max(invoiced, len(run.Invoiced)), CustomersSkipped: &skipped, Invoices: []billedJSON{}, Skipped: []skippedJSON{}}
		if billable >= 0 {
			body.CustomersBillable = &billable
		}
		return &response{status: http.StatusAccepted, location: location, result: started, body: body}, nil
	}, nil
}

func runBody(b resultBody, out commands.BillingRunResult) billingRunBody {
	body := billingRunBody{resultBody: b, RunID: out.RunID, Period: out.Period, Status: "open",
		CustomersInvoiced: out.CustomersInvoiced, Invoices: []billedJSON{}, Skipped: []skippedJSON{}}
	if out.Completed {
		body.Status = "completed"
	}
	for _, inv := range out.Invoices {
		j := billedJSON{CustomerID: inv.CustomerID, InvoiceID: inv.InvoiceID}
		if inv.Number != "" {
			j.Number, j.Total = &inv.Number, &inv.Total
		}
		body.Invoices = append(body.Invoices, j)
	}
	for _, s := range out.Skipped {
		body.Skipped = append(body.Skipped, skippedJSON{CustomerID: s.CustomerID, Reason: s.Reason})
	}
	return body
}

// billingRunProgressBody is the answer to GET /v1/billing-runs/{period}.
type billingRunProgressBody struct {
	ID                string              `json:"id"`
	RunID             domain.BillingRunID `json:"run_id"`
	Period            domain.Period       `json:"period"`
	Status            string              `json:"status"`
	Version           uint64              `json:"version"`
	CustomersInvoiced int                 `json:"customers_invoiced"`
	CustomersBillable int                 `json:"customers_billable"`
	CustomersSkipped  int                 `json:"customers_skipped"`
	Percent           int                 `json:"percent"`
	Yielding          bool                `json:"yielding,omitempty"`
	StartedAt         *time.Time          `json:"started_at,omitempty"`
	CompletedAt       *time.Time          `json:"completed_at,omitempty"`
}

// getBillingRun serves GET /v1/billing-runs/{period}: the run's progress, read from the
// command side (the run stream, the billing index, and this process's worker if it runs it).
func (a *API) getBillingRun(w http.ResponseWriter, r *http.Request) {
	mapper := problemFor(route{op: "getBillingRun"}, r)
	p, ok := auth.From(r.Context())
	if !ok {
		httpx.WriteError(w, r, httpx.Unauthorized("no principal"), mapper)
		return
	}
	tenant, err := domain.ParseTenantID(p.Tenant)
	if err != nil {
		httpx.WriteError(w, r, httpx.Unauthorized("the token's tenant is invalid"), mapper)
		return
	}
	raw := mux.Vars(r)["period"]
	period, err := domain.ParsePeriod(raw)
	if err != nil {
		httpx.WriteError(w, r, httpx.BadRequest("period must be a month such as 2026-01",
			httpx.FieldError{Field: "period", Reason: err.Error()}), mapper)
		return
	}
	prog, err := a.cfg.Handlers.BillingRunProgress(r.Context(), tenant, period)
	if err != nil {
		httpx.WriteError(w, r, err, mapper)
		return
	}
	body := billingRunProgressBody{ID: period.String(), RunID: prog.RunID, Period: period, Status: prog.Status, Version: prog.Version,
		CustomersInvoiced: prog.CustomersInvoiced, CustomersBillable: prog.CustomersBillable, CustomersSkipped: prog.CustomersSkipped,
		Percent: prog.Percent(), Yielding: prog.Yielding}
	if !prog.StartedAt.IsZero() {
		body.StartedAt = &prog.StartedAt
	}
	if !prog.CompletedAt.IsZero() {
		body.CompletedAt = &prog.CompletedAt
	}
	w.Header().Set("ETag", `"`+strconv.FormatUint(prog.Version, 10)+`"`)
	httpx.WriteJSON(w, http.StatusOK, body)
}

// startedBy reports whether run is the one the command id commandID started: the request
// that created the run, or its retry after a crash recovering the answer from the events
// (which appends nothing, yet must answer as the first attempt did: 201).
func startedBy(run domain.BillingRunID, commandID uuid.UUID) bool {
	id, err := commands.BillingRunIDFor(commandID)
	return err == nil && id == run
}
