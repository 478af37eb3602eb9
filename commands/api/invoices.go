package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
)

const invoicePath = "/v1/customers/{customer_id}/invoices"

func invoiceRoutes() []route {
	return []route{
		{op: "createInvoice", method: http.MethodPost, path: invoicePath, permission: auth.InvoicesWrite, ifMatch: true, prepare: prepareCreateInvoice},
		{op: "addInvoiceLine", method: http.MethodPost, path: invoicePath + "/{invoice_id}/lines", permission: auth.InvoicesWrite, ifMatch: true, prepare: prepareAddLine},
		{op: "issueInvoice", method: http.MethodPost, path: invoicePath + "/{invoice_id}/issue", permission: auth.InvoicesWrite, ifMatch: true, prepare: prepareIssueInvoice},
		{op: "voidInvoice", method: http.MethodPost, path: invoicePath + "/{invoice_id}/void", permission: auth.InvoicesWrite, ifMatch: true, prepare: prepareVoidInvoice},
	}
}

// lineJSON is an invoice line as a client writes it.
type lineJSON struct {
	Description value `json:"description"`
	Quantity    value `json:"quantity"`
	UnitPrice   value `json:"unit_price"`
	TaxRate     value `json:"tax_rate"`
}

func (l lineJSON) parse(f *fields, prefix string) domain.LineInput {
	in := domain.LineInput{
		Description: f.str(prefix+"description", l.Description, true),
		Quantity:    domain.QuantityOne(),
		UnitPrice:   f.money(prefix+"unit_price", l.UnitPrice, true, anySign),
		TaxRate:     parsed(f, prefix+"tax_rate", l.TaxRate, false, domain.ParseTaxRate),
	}
	if !l.Quantity.empty() {
		in.Quantity = parsed(f, prefix+"quantity", l.Quantity, true, domain.ParseQuantity)
	}
	return in
}

// lines parses the array of lines at field name.
func (f *fields) lines(name string, v value) []domain.LineInput {
	if v.empty() {
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		f.fail(name, "must be an array of lines, not "+v.kind())
		return nil
	}
	if len(raw) > domain.MaxInvoiceLines {
		f.fail(name, fmt.Sprintf("at most %d lines", domain.MaxInvoiceLines))
		return nil
	}
	out := make([]domain.LineInput, 0, len(raw))
	for i, r := range raw {
		prefix := fmt.Sprintf("%s[%d].", name, i)
		var l lineJSON
		if err := decode(r, &l); err != nil {
			f.failDecode(prefix, err)
			continue
		}
		out = append(out, l.parse(f, prefix))
	}
	return out
}

// failDecode records the field errors of a nested object that did not decode.
func (f *fields) failDecode(prefix string, err error) {
	var p *httpx.Problem
	if !errors.As(err, &p) || len(p.Errors) == 0 {
		f.fail(prefix[:len(prefix)-1], "must be an object")
		return
	}
	for _, fe := range p.Errors {
		f.fail(prefix+fe.Field, fe.Reason)
	}
}

type createInvoiceJSON struct {
	Lines value `json:"lines"`
}

func prepareCreateInvoice(req *request) (command, error) {
	var in createInvoiceJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	c := commands.CreateInvoice{CustomerID: pathID(&f, req, "customer_id", domain.ParseCustomerID), Lines: f.lines("lines", in.Lines)}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.CreateInvoice(ctx, m, c)
		return reply(res, err, http.StatusCreated, invoiceLocation(c.CustomerID, res.ID), nil)
	}, nil
}

func invoiceLocation(customer domain.CustomerID, invoice string) string {
	return "/v1/customers/" + customer.String() + "/invoices/" + invoice
}

// invoiceRef is the customer and invoice of an invoice path.
func invoiceRef(f *fields, req *request) (domain.CustomerID, domain.InvoiceID) {
	return pathID(f, req, "customer_id", domain.ParseCustomerID), pathID(f, req, "invoice_id", domain.ParseInvoiceID)
}

type addLineBody struct {
	resultBody
	InvoiceID string `json:"invoice_id"`
}

func prepareAddLine(req *request) (command, error) {
	var in lineJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	customer, invoice := invoiceRef(&f, req)
	c := commands.AddInvoiceLine{CustomerID: customer, InvoiceID: invoice, Line: in.parse(&f, "")}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.AddInvoiceLine(ctx, m, c)
		return reply(res, err, http.StatusCreated, invoiceLocation(customer, invoice.String()), func(b resultBody) any {
			return addLineBody{resultBody: b, InvoiceID: invoice.String()}
		})
	}, nil
}

type issueInvoiceJSON struct {
	DueDate value `json:"due_date"`
}

// issuedBody is the answer to issuing an invoice.
type issuedBody struct {
	resultBody
	Number        string       `json:"number"`
	IssueDate     domain.Date  `json:"issue_date"`
	DueDate       domain.Date  `json:"due_date"`
	Total         domain.Money `json:"total"`
	CreditApplied domain.Money `json:"credit_applied"`
}

func prepareIssueInvoice(req *request) (command, error) {
	var in issueInvoiceJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	customer, invoice := invoiceRef(&f, req)
	c := commands.IssueInvoice{CustomerID: customer, InvoiceID: invoice, DueDate: parsed(&f, "due_date", in.DueDate, true, domain.ParseDate)}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.IssueInvoice(ctx, m, c)
		return reply(res, err, http.StatusOK, "", func(b resultBody) any {
			out := issuedBody{resultBody: b}
			if e, ok := eventOf[domain.InvoiceIssued](res); ok {
				out.Number, out.IssueDate, out.DueDate, out.Total, out.CreditApplied = e.Number, e.IssueDate, e.DueDate, e.Total, e.CreditApplied
			}
			return out
		})
	}, nil
}

func prepareVoidInvoice(req *request) (command, error) {
	var in reasonJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	customer, invoice := invoiceRef(&f, req)
	c := commands.VoidInvoice{CustomerID: customer, InvoiceID: invoice, Reason: f.str("reason", in.Reason, true)}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.VoidInvoice(ctx, m, c)
		return reply(res, err, http.StatusOK, "", nil)
	}, nil
}

// eventOf returns the first event of type E the command appended.
func eventOf[E domain.Event](res commands.Result) (E, bool) {
	for _, e := range res.Events {
		if v, ok := e.(E); ok {
			return v, true
		}
	}
	var zero E
	return zero, false
}
