package domain_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/dotmac/ledger/domain"
)

// sampleEvents returns at least one event of every type, each produced by a Decide function
// from realistic commands.
func sampleEvents() []domain.Event {
	account := history(steps(registered(),
		[]step{on("2026-01-01", domain.UpdateCustomerContact{Contact: domain.Contact{Name: "Alice Ng", Email: "alice@isp.example", BillingAddress: "2 Side St"}})},
		[]step{on("2026-01-02", createInvoice(1, taxedLineIn(1, "Broadband", "1", "79.99", "0.2")))},
		[]step{on("2026-01-02", domain.AddInvoiceLine{InvoiceID: invoiceID(1), Line: taxedLineIn(2, "Static IP", "2", "2.50", "0.075")})},
		[]step{on("2026-01-02", issueInvoice(1, "2026-01-16"))},
		invoiceIssuedOn(2, "2026-01-03", lineIn(3, "Install", "50")),
		[]step{on("2026-01-04", domain.VoidInvoice{InvoiceID: invoiceID(2), Reason: "issued in error"})},
		[]step{on("2026-01-20", domain.MarkInvoiceOverdue{InvoiceID: invoiceID(1)})},
		[]step{on("2026-01-21", recordPayment(1, "120"))},
		[]step{on("2026-01-22", domain.RefundPayment{PaymentID: paymentID(1), Amount: usd("5"), Reason: "overpaid"})},
		[]step{on("2026-01-23", domain.IssueCreditNote{CreditNoteID: creditNoteID(1), Net: usd("5"), TaxRate: rate("0.2"), Reason: "outage"})},
		[]step{on("2026-01-24", domain.RecordOpeningBalance{InvoiceID: invoiceID(9), Amount: usd("42.50"), AsOf: date("2025-12-31")})},
		[]step{on("2026-01-26", domain.DeactivateCustomer{Reason: "moved away"})},
	)...)
	service := serviceHistory(append(fiberFrom("2026-01-01"),
		svc("2026-01-05", domain.SuspendService{Reason: domain.SuspensionNonPayment}),
		svc("2026-01-08", domain.ResumeService{}),
		svc("2026-01-16", domain.ChangePlan{NewPlan: plan(fiber500()), EffectiveDate: date("2026-01-16")}),
		svc("2026-01-31", domain.TerminateService{LastDay: date("2026-01-31"), Reason: "moving"}))...)
	var catalog []domain.Event
	for _, c := range []domain.PlanCommand{fiber100(), domain.RetirePlan{}} {
		catalog = append(catalog, must(domain.DecidePlan(must(domain.FoldPlan(catalog)), c, t0))...)
	}
	var run []domain.Event
	for _, c := range []domain.BillingRunCommand{
		domain.StartBillingRun{BillingRunID: billingRunID(1), Period: period("2026-01")},
		domain.RecordCustomerInvoiced{CustomerID: alice, InvoiceID: invoiceID(1)},
		domain.CompleteBillingRun{},
	} {
		run = append(run, must(domain.DecideBillingRun(must(domain.FoldBillingRun(run)), c, t0))...)
	}
	var receipt []domain.Event
	for _, c := range []domain.ReceiptCommand{
		unallocatedReceipt(1, "25.00"),
		domain.AllocateReceipt{CustomerID: alice, PaymentID: paymentID(9)},
	} {
		receipt = append(receipt, must(domain.DecideReceipt(must(domain.FoldReceipt(receipt)), c, t0))...)
	}
	claim := must(domain.DecideProviderPayment(domain.ProviderPaymentState{}, domain.ClaimProviderPayment{ReceiptID: receiptID(2),
		ExternalReference: "stripe:pi_1", Amount: usd("79.99"), Booking: domain.BookedToAccount, Customer: alice, Payment: paymentID(8)}, t0))
	return append(append(append(append(append(account, service...), catalog...), run...), receipt...), claim...)
}

func TestSampleEventsCoverAllEvents(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range sampleEvents() {
		seen[e.EventType()] = true
	}
	for _, e := range domain.AllEvents() {
		if !seen[e.EventType()] {
			t.Errorf("no sample of %s", e.EventType())
		}
	}
}

// AllEvents is the codec's registry: it must list every type that has an EventType method,
// once, named after its Go type, at schema version 1.
func TestAllEventsIsComplete(t *testing.T) {
	declared := eventTypesDeclaredInSource(t)
	listed := map[string]bool{}
	for _, e := range domain.AllEvents() {
		name := e.EventType()
		if listed[name] {
			t.Errorf("%s listed twice", name)
		}
		listed[name] = true
		if reflect.TypeOf(e).Name() != name || e.SchemaVersion() != 1 || reflect.TypeOf(e).Kind() != reflect.Struct {
			t.Errorf("%T: EventType %q, SchemaVersion %d", e, name, e.SchemaVersion())
		}
	}
	for _, name := range declared {
		if !listed[name] && !eventViews[name] {
			t.Errorf("%s has an EventType method but is missing from AllEvents", name)
		}
	}
	if len(declared) != len(listed)+len(eventViews) {
		t.Errorf("declared %v, listed %d", declared, len(listed))
	}
}

// eventViews are the types with an EventType method that stand for part of a listed event
// (see InvoiceIssuedHead): readers may decode them, nothing stores them.
var eventViews = map[string]bool{"InvoiceIssuedHead": true}

// eventTypesDeclaredInSource finds every receiver type of an EventType method in the
// package's source files.
func eventTypesDeclaredInSource(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if ok && fn.Recv != nil && fn.Name.Name == "EventType" {
				if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok {
					names = append(names, id.Name)
				}
			}
		}
	}
	sort.Strings(names)
	return names
}

// Every event marshals to JSON and decodes back to an equal event, and re-encodes to the
// same bytes.
func TestEventsRoundTripThroughJSON(t *testing.T) {
	for _, e := range sampleEvents() {
		assertRoundTrip(t, e)
	}
}

// fataler is the part of *testing.T and *rapid.T the shared assertions use.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

func assertRoundTrip(t fataler, e domain.Event) {
	t.Helper()
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("marshal %s: %v", e.EventType(), err)
	}
	back, err := decodeEvent(e.EventType(), data)
	if err != nil {
		t.Fatalf("decode %s: %v\n%s", e.EventType(), err, data)
	}
	if !equal(back, e) {
		t.Fatalf("%s changed in the round trip:\n got %+v\nwant %+v", e.EventType(), back, e)
	}
	again, err := json.Marshal(back)
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("%s re-encodes differently:\n%s\n%s", e.EventType(), again, data)
	}
}

// The JSON shape is part of the contract: field names are snake_case and stable, money is
// an object with a decimal string, dates and periods are strings, optional values null.
func TestEventJSONShape(t *testing.T) {
	e := domain.InvoiceIssued{InvoiceIssuedHead: domain.InvoiceIssuedHead{
		CustomerID: alice, InvoiceID: invoiceID(1), Number: "INV-0001", IssueDate: date("2026-01-10"),
		DueDate: date("2026-01-24"), Currency: usdCurrency,
		NetTotal: usd("79.99"), TaxTotal: usd("16"), Total: usd("95.99"), CreditApplied: usd("0"), IssuedAt: t0,
	}, Lines: []domain.InvoiceLine{wantLine(1, "Broadband", "1", "79.99", "79.99", "0.2", "16.00")}}
	want := `{"customer_id":"` + uuidN(101) + `","invoice_id":"` + uuidN(201) + `","number":"INV-0001",` +
		`"issue_date":"2026-01-10","due_date":"2026-01-24","currency":"USD","period":null,` +
		`"net_total":{"amount":"79.99","currency":"USD"},` +
		`"tax_total":{"amount":"16.00","currency":"USD"},"total":{"amount":"95.99","currency":"USD"},` +
		`"credit_applied":{"amount":"0.00","currency":"USD"},"issued_at":"2026-01-10T09:00:00Z",` +
		`"lines":[{"line_id":"` + uuidN(501) + `","description":"Broadband","quantity":"1",` +
		`"unit_price":{"amount":"79.99","currency":"USD"},"net":{"amount":"79.99","currency":"USD"},` +
		`"tax_rate":"0.2","tax":{"amount":"16.00","currency":"USD"},"service_id":null,"plan_code":null,` +
		`"period":null,"proration":null,"from":null,"through":null}]}`
	if got := string(must(json.Marshal(e))); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestDecodeEventRejects(t *testing.T) {
	if _, err := decodeEvent("NoSuchEvent", []byte(`{}`)); err == nil {
		t.Error("unknown type accepted")
	}
	bad := map[string]string{
		"PaymentRecorded":    `{"amount":{"amount":"1.001","currency":"USD"}}`,
		"InvoiceIssued":      `{"issue_date":"2026-02-30"}`,
		"ServiceSuspended":   `{"reason":"fraud"}`,
		"CustomerRegistered": `{"customer_id":"nope"}`,
		"ServiceProvisioned": `{"static_ip":"999.1.1.1"}`,
		"PlanDefined":        `{"tax_rate":"2"}`,
		"InvoiceCreated":     `[]`,
	}
	for typ, data := range bad {
		if _, err := decodeEvent(typ, []byte(data)); err == nil {
			t.Errorf("%s %s accepted", typ, data)
		}
	}
}
