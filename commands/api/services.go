package api

import (
	"context"
	"net/http"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/auth"
)

func serviceRoutes() []route {
	action := func(op, name string, prepare func(*request) (command, error)) route {
		return route{op: op, method: http.MethodPost, path: "/v1/services/{service_id}/" + name, permission: auth.ServicesWrite,
			ifMatch: true, aliases: map[string]string{"new plan": "plan_code", "suspension reason": "reason", "activation date": "effective_date",
				"suspension date": "effective_date", "resume date": "effective_date", "effective date": "effective_date", "last day": "last_day"},
			prepare: prepare, storeAnswer: true} // "scheduled" is as of the day it was answered
	}
	return []route{
		{op: "provisionService", method: http.MethodPost, path: "/v1/services", permission: auth.ServicesWrite,
			aliases: map[string]string{"ont serial": "ont_serial", "static ip": "static_ip"}, prepare: prepareProvisionService},
		action("activateService", "activate", prepareServiceAction(func(id domain.ServiceID, f *fields, in effectiveJSON) serviceCommand {
			c := commands.ActivateService{ServiceID: id, On: parsed(f, "effective_date", in.EffectiveDate, false, domain.ParseDate)}
			return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (commands.Result, error) {
				return h.ActivateService(ctx, m, c)
			}
		})),
		action("suspendService", "suspend", prepareServiceAction(func(id domain.ServiceID, f *fields, in suspendJSON) serviceCommand {
			c := commands.SuspendService{ServiceID: id, Reason: parsed(f, "reason", in.Reason, true, domain.ParseSuspensionReason),
				On: parsed(f, "effective_date", in.EffectiveDate, false, domain.ParseDate)}
			return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (commands.Result, error) {
				return h.SuspendService(ctx, m, c)
			}
		})),
		action("resumeService", "resume", prepareServiceAction(func(id domain.ServiceID, f *fields, in effectiveJSON) serviceCommand {
			c := commands.ResumeService{ServiceID: id, On: parsed(f, "effective_date", in.EffectiveDate, false, domain.ParseDate)}
			return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (commands.Result, error) {
				return h.ResumeService(ctx, m, c)
			}
		})),
		action("changeServicePlan", "change-plan", prepareServiceAction(func(id domain.ServiceID, f *fields, in changePlanJSON) serviceCommand {
			c := commands.ChangePlan{ServiceID: id, PlanCode: parsed(f, "plan_code", in.PlanCode, true, domain.ParsePlanCode),
				EffectiveDate: parsed(f, "effective_date", in.EffectiveDate, false, domain.ParseDate)}
			return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (commands.Result, error) {
				return h.ChangePlan(ctx, m, c)
			}
		})),
		action("terminateService", "terminate", prepareServiceAction(func(id domain.ServiceID, f *fields, in terminateJSON) serviceCommand {
			c := commands.TerminateService{ServiceID: id, LastDay: parsed(f, "last_day", in.LastDay, false, domain.ParseDate),
				Reason: f.str("reason", in.Reason, false)}
			return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (commands.Result, error) {
				return h.TerminateService(ctx, m, c)
			}
		})),
	}
}

type provisionServiceJSON struct {
	CustomerID     value `json:"customer_id"`
	PlanCode       value `json:"plan_code"`
	StartDate      value `json:"start_date"`
	InstallAddress value `json:"install_address"`
	ONTSerial      value `json:"ont_serial"`
	StaticIP       value `json:"static_ip"`
}

func prepareProvisionService(req *request) (command, error) {
	var in provisionServiceJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	c := commands.ProvisionService{
		CustomerID:     parsed(&f, "customer_id", in.CustomerID, true, domain.ParseCustomerID),
		PlanCode:       parsed(&f, "plan_code", in.PlanCode, true, domain.ParsePlanCode),
		StartDate:      parsed(&f, "start_date", in.StartDate, true, domain.ParseDate),
		InstallAddress: f.str("install_address", in.InstallAddress, true), ONTSerial: f.str("ont_serial", in.ONTSerial, false),
		StaticIP: f.ip("static_ip", in.StaticIP),
	}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.ProvisionService(ctx, m, c)
		return reply(res, err, http.StatusCreated, "/v1/services/"+res.ID, nil)
	}, nil
}

type effectiveJSON struct {
	EffectiveDate value `json:"effective_date"`
}

type suspendJSON struct {
	Reason        value `json:"reason"`
	EffectiveDate value `json:"effective_date"`
}

type changePlanJSON struct {
	PlanCode      value `json:"plan_code"`
	EffectiveDate value `json:"effective_date"`
}

type terminateJSON struct {
	LastDay value `json:"last_day"`
	Reason  value `json:"reason"`
}

type serviceCommand func(ctx context.Context, h *commands.Handlers, m commands.Meta) (commands.Result, error)

// prepareServiceAction validates a service action whose body is a T (unknown fields refused)
// and whose fields build reads.
func prepareServiceAction[T any](build func(domain.ServiceID, *fields, T) serviceCommand) func(*request) (command, error) {
	return func(req *request) (command, error) {
		var in T
		if err := decode(req.body, &in); err != nil {
			return nil, err
		}
		var f fields
		run := build(pathID(&f, req, "service_id", domain.ParseServiceID), &f, in)
		if err := f.problem(); err != nil {
			return nil, err
		}
		return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
			res, err := run(ctx, h, m)
			today := domain.DateOf(h.Now(m))
			return reply(res, err, http.StatusOK, "", func(b resultBody) any { return lifecycleBodyOf(b, res, today) })
		}, nil
	}
}

// lifecycleBody is the answer to a service lifecycle command: the date it takes effect,
// whether that is after today (scheduled), and the billing adjustment it issued, if any.
type lifecycleBody struct {
	resultBody
	EffectiveDate domain.Date     `json:"effective_date"`
	Scheduled     bool            `json:"scheduled"`
	Adjustment    *adjustmentJSON `json:"adjustment"`
}

// adjustmentJSON is a billing adjustment issued at once: a supplementary invoice (invoice_id
// and number set) or a credit note (credit_note_id set), with its lines.
type adjustmentJSON struct {
	Kind         string               `json:"kind"`
	InvoiceID    *domain.InvoiceID    `json:"invoice_id"`
	Number       *string              `json:"number"`
	CreditNoteID *domain.CreditNoteID `json:"credit_note_id"`
	Total        domain.Money         `json:"total"`
	Lines        []domain.InvoiceLine `json:"lines"`
}

func lifecycleBodyOf(b resultBody, res commands.Result, today domain.Date) lifecycleBody {
	out := lifecycleBody{resultBody: b, EffectiveDate: res.Effective, Scheduled: res.Effective.After(today)}
	if a := res.Adjustment; a != nil {
		adj := &adjustmentJSON{Kind: "credit_note", Total: a.Total, Lines: a.Lines}
		if !a.InvoiceID.IsZero() {
			adj.Kind, adj.InvoiceID, adj.Number = "invoice", &a.InvoiceID, &a.Number
		} else {
			adj.CreditNoteID = &a.CreditNoteID
		}
		out.Adjustment = adj
	}
	return out
}
