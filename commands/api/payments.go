package api

import (
	"context"
	"net/http"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/auth"
)

func paymentRoutes() []route {
	return []route{
		{op: "recordPayment", method: http.MethodPost, path: "/v1/customers/{customer_id}/payments", permission: auth.PaymentsWrite, ifMatch: true,
			aliases: map[string]string{"payment amount": "amount", "payment method": "method"}, prepare: prepareRecordPayment},
		{op: "refundPayment", method: http.MethodPost, path: "/v1/customers/{customer_id}/payments/{payment_id}/refunds", permission: auth.PaymentsWrite,
			ifMatch: true, aliases: map[string]string{"refund amount": "amount"}, prepare: prepareRefundPayment},
		{op: "issueCreditNote", method: http.MethodPost, path: "/v1/customers/{customer_id}/credit-notes", permission: auth.CreditNotesWrite,
			ifMatch: true, aliases: map[string]string{"credit note net": "net", "issued on": "issued_on"}, prepare: prepareIssueCreditNote},
		{op: "recordOpeningBalance", method: http.MethodPost, path: "/v1/customers/{customer_id}/opening-balance", permission: auth.PaymentsWrite,
			ifMatch: true, aliases: map[string]string{"opening balance": "amount", "as of": "as_of"}, prepare: prepareRecordOpeningBalance},
		{op: "applyCustomerCredit", method: http.MethodPost, path: "/v1/customers/{customer_id}/apply-credit", permission: auth.PaymentsWrite,
			ifMatch: true, prepare: prepareApplyCustomerCredit},
	}
}

type recordPaymentJSON struct {
	Amount            value `json:"amount"`
	Method            value `json:"method"`
	ExternalReference value `json:"external_reference"`
	ReceivedAt        value `json:"received_at"`
}

// paymentBody is the answer to recording a payment: how it was allocated.
type paymentBody struct {
	resultBody
	Amount      domain.Money        `json:"amount"`
	Allocations []domain.Allocation `json:"allocations"`
	Unapplied   domain.Money        `json:"unapplied"`
}

func prepareRecordPayment(req *request) (command, error) {
	var in recordPaymentJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	customer := pathID(&f, req, "customer_id", domain.ParseCustomerID)
	c := commands.RecordPayment{
		CustomerID: customer, Amount: f.money("amount", in.Amount, true, positive),
		Method:            parsed(&f, "method", in.Method, true, domain.ParsePaymentMethod),
		ExternalReference: f.str("external_reference", in.ExternalReference, false),
		ReceivedAt:        f.instant("received_at", in.ReceivedAt, false),
	}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.RecordPayment(ctx, m, c)
		return reply(res, err, http.StatusCreated, "/v1/customers/"+customer.String()+"/payments/"+res.ID, func(b resultBody) any {
			out := paymentBody{resultBody: b, Allocations: []domain.Allocation{}}
			if e, ok := eventOf[domain.PaymentRecorded](res); ok {
				out.Amount, out.Allocations, out.Unapplied = e.Amount, e.Allocations, e.Unapplied
			}
			return out
		})
	}, nil
}

type refundJSON struct {
	Amount value `json:"amount"`
	Reason value `json:"reason"`
}

func prepareRefundPayment(req *request) (command, error) {
	var in refundJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	c := commands.RefundPayment{
		CustomerID: pathID(&f, req, "customer_id", domain.ParseCustomerID), PaymentID: pathID(&f, req, "payment_id", domain.ParsePaymentID),
		Amount: f.money("amount", in.Amount, true, positive), Reason: f.str("reason", in.Reason, true),
	}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.RefundPayment(ctx, m, c)
		return reply(res, err, http.StatusOK, "", nil)
	}, nil
}

type creditNoteJSON struct {
	InvoiceID value `json:"invoice_id"`
	Net       value `json:"net"`
	TaxRate   value `json:"tax_rate"`
	Reason    value `json:"reason"`
	IssuedOn  value `json:"issued_on"`
}

type creditNoteBody struct {
	resultBody
	Tax         domain.Money        `json:"tax"`
	Total       domain.Money        `json:"total"`
	Allocations []domain.Allocation `json:"allocations"`
	Unapplied   domain.Money        `json:"unapplied"`
}

func prepareIssueCreditNote(req *request) (command, error) {
	var in creditNoteJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	customer := pathID(&f, req, "customer_id", domain.ParseCustomerID)
	c := commands.IssueCreditNote{
		CustomerID: customer, InvoiceID: parsed(&f, "invoice_id", in.InvoiceID, false, domain.ParseInvoiceID),
		Net: f.money("net", in.Net, true, positive), TaxRate: parsed(&f, "tax_rate", in.TaxRate, false, domain.ParseTaxRate),
		Reason: f.str("reason", in.Reason, true), IssuedOn: parsed(&f, "issued_on", in.IssuedOn, false, domain.ParseDate),
	}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.IssueCreditNote(ctx, m, c)
		return reply(res, err, http.StatusCreated, "/v1/customers/"+customer.String()+"/credit-notes/"+res.ID, func(b resultBody) any {
			out := creditNoteBody{resultBody: b, Allocations: []domain.Allocation{}}
			if e, ok := eventOf[domain.CreditNoteIssued](res); ok {
				out.Tax, out.Total, out.Unapplied = e.Tax, e.Total, e.Unapplied()
				if e.Allocations != nil {
					out.Allocations = e.Allocations
				}
			}
			return out
		})
	}, nil
}

type openingBalanceJSON struct {
	Amount value `json:"amount"`
	AsOf   value `json:"as_of"`
}

func prepareRecordOpeningBalance(req *request) (command, error) {
	var in openingBalanceJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	customer := pathID(&f, req, "customer_id", domain.ParseCustomerID)
	c := commands.RecordOpeningBalance{CustomerID: customer, Amount: f.money("amount", in.Amount, true, nonZero),
		AsOf: parsed(&f, "as_of", in.AsOf, false, domain.ParseDate)}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.RecordOpeningBalance(ctx, m, c)
		return reply(res, err, http.StatusCreated, "/v1/customers/"+customer.String()+"/opening-balance", nil)
	}, nil
}

// creditAppliedBody is the answer to applying customer credit: what it settled (nothing when
// there was no credit or nothing open).
type creditAppliedBody struct {
	resultBody
	Allocations []domain.Allocation `json:"allocations"`
	Amount      *domain.Money       `json:"amount"`
}

func prepareApplyCustomerCredit(req *request) (command, error) {
	var in struct{}
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	customer := pathID(&f, req, "customer_id", domain.ParseCustomerID)
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.ApplyCustomerCredit(ctx, m, commands.ApplyCustomerCredit{CustomerID: customer})
		return reply(res, err, http.StatusOK, "", func(b resultBody) any {
			out := creditAppliedBody{resultBody: b, Allocations: []domain.Allocation{}}
			if e, ok := eventOf[domain.CustomerCreditApplied](res); ok {
				out.Allocations, out.Amount = e.Allocations, &e.Amount
			}
			return out
		})
	}, nil
}
