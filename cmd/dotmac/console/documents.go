package console

import (
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/readapi"
)

// documentData is an invoice's or a payment's page.
type documentData struct {
	Kind     string // "invoice" or "payment"
	ID       string
	Invoice  *readapi.InvoiceDetail
	Payment  *readapi.PaymentDetail
	Customer readapi.Customer
	// History is every event of the customer's stream that touched the document.
	History     []audit.HistoryEntry
	HistoryNote string
	// Journal is the journal lines those events posted.
	Journal []readapi.JournalLine
	// At is the event picked with ?at=position; AtState the customer's state right after it.
	At        *audit.HistoryEntry
	AtState   *audit.CustomerAsOf
	AtInvoice *audit.InvoiceAsOf
}

// invoice is an invoice's page: lines, allocations, credit notes, journal entries, history.
func (c *Console) invoice(w http.ResponseWriter, r *http.Request, v *view) {
	id := mux.Vars(r)["invoice_id"]
	var inv readapi.InvoiceDetail
	if err := c.getByID(r, v, "/v1/invoices/", id, &inv); err != nil {
		c.fail(w, r, v, err)
		return
	}
	d := documentData{Kind: "invoice", ID: id, Invoice: &inv}
	v.Title = "Invoice " + derefOr(inv.Number, "(draft) "+id[:8])
	c.document(w, r, v, &d, inv.CustomerID, "invoice_id")
}

// payment is a payment's page: allocations, journal entries, history.
func (c *Console) payment(w http.ResponseWriter, r *http.Request, v *view) {
	id := mux.Vars(r)["payment_id"]
	var p readapi.PaymentDetail
	if err := c.getByID(r, v, "/v1/payments/", id, &p); err != nil {
		c.fail(w, r, v, err)
		return
	}
	d := documentData{Kind: "payment", ID: id, Payment: &p}
	v.Title = "Payment " + p.ExternalReference
	c.document(w, r, v, &d, p.CustomerID, "payment_id")
}

// getByID reads one resource by a UUID (anything else is a 404, as the API says).
func (c *Console) getByID(r *http.Request, v *view, base, id string, out any) error {
	if _, err := uuid.Parse(id); err != nil {
		return errNotFound
	}
	return v.get(r, base+id, out)
}

// document adds the customer, the history, the journal and the as-of state, and renders.
func (c *Console) document(w http.ResponseWriter, r *http.Request, v *view, d *documentData, customer, entity string) {
	if err := v.get(r, "/v1/customers/"+customer, &d.Customer); err != nil {
		c.fail(w, r, v, err)
		return
	}
	var h historyAnswer
	err := v.get(r, "/v1/audit/customers/"+customer+"/history?"+entity+"="+d.ID, &h)
	switch {
	case err == nil:
		d.History = h.Events
	case optional(err):
		d.HistoryNote = "History needs the audit:read permission."
	default:
		c.fail(w, r, v, err)
		return
	}
	if d.Journal, err = c.journalOf(r, v, customer, d.History); err != nil {
		c.fail(w, r, v, err)
		return
	}
	if err := c.pickEvent(r, v, d, customer); err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, v, http.StatusOK, d.Kind, d)
}

// journalOf returns the customer's journal lines posted by the events of history.
func (c *Console) journalOf(r *http.Request, v *view, customer string, history []audit.HistoryEntry) ([]readapi.JournalLine, error) {
	if len(history) == 0 {
		return nil, nil
	}
	at := map[uint64]bool{}
	for _, e := range history {
		at[uint64(e.Position)] = true
	}
	lines, _, err := getAll[readapi.JournalLine](v, r, "/v1/journal?customer_id="+customer)
	if err != nil {
		return nil, err
	}
	var out []readapi.JournalLine
	for _, l := range lines {
		if at[l.Position] {
			out = append(out, l)
		}
	}
	return out, nil
}

// pickEvent reads ?at=position: the history event at that position and the customer's state
// as of it (from the event store, by the auditors' as-of).
func (c *Console) pickEvent(r *http.Request, v *view, d *documentData, customer string) error {
	s := r.URL.Query().Get("at")
	if s == "" {
		return nil
	}
	pos, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Title: "Invalid position", Detail: "at wants the position of one of this document's events."}
	}
	for i := range d.History {
		if uint64(d.History[i].Position) == pos {
			d.At = &d.History[i]
		}
	}
	if d.At == nil {
		return &apiError{Status: http.StatusNotFound, Title: "No such event", Detail: "No event of this document is at position " + s + "."}
	}
	var st audit.CustomerAsOf
	if err := v.get(r, "/v1/audit/customers/"+customer+"/as-of?position="+s, &st); err != nil {
		return err
	}
	d.AtState = &st
	for i := range st.Invoices {
		if st.Invoices[i].InvoiceID == d.ID {
			d.AtInvoice = &st.Invoices[i]
		}
	}
	return nil
}
