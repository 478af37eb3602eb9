package api

import (
	"context"
	"net/http"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/auth"
)

func billingRunRoutes() []route {
	return []route{
		{op: "runBilling", method: http.MethodPost, path: "/v1/billing-runs", permission: auth.BillingRunsWrite,
			aliases: map[string]string{"due days": "due_days"}, prepare: prepareRunBilling},
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
	Invoices          []billedJSON        `json:"invoices"`
	Skipped           []skippedJSON       `json:"skipped"`
}

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
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		out, err := h.RunBilling(ctx, m, c)
		status := http.StatusOK
		if out.Changed() {
			status = http.StatusCreated
		}
		return reply(out.Result, err, status, "/v1/billing-runs/"+c.Period.String(), func(b resultBody) any {
			return runBody(b, out)
		})
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
