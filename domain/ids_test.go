package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
)

func TestParseIDs(t *testing.T) {
	s := uuidN(1)
	id, err := domain.ParseCustomerID(s)
	if err != nil || id.String() != s || id.IsZero() || id.UUID().Version() != 7 {
		t.Fatalf("ParseCustomerID(%q) = %v, %v", s, id, err)
	}
	bad := []string{
		"", "not-a-uuid", "0194ABCD-0000-7000-8000-000000000001", "{" + s + "}", "urn:uuid:" + s,
		"01940000-0000-4000-8000-000000000001", // version 4
		"00000000-0000-0000-0000-000000000000", // nil
	}
	for _, b := range bad {
		if _, err := domain.ParseInvoiceID(b); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ParseInvoiceID(%q) accepted", b)
		}
	}
	// Every kind has a parser, and a constructor from a UUIDv7.
	v7 := uuid.Must(uuid.NewV7())
	parsers := []func(string) error{
		func(s string) error { _, err := domain.ParseServiceID(s); return err },
		func(s string) error { _, err := domain.ParsePaymentID(s); return err },
		func(s string) error { _, err := domain.ParseCreditNoteID(s); return err },
		func(s string) error { _, err := domain.ParseLineID(s); return err },
		func(s string) error { _, err := domain.ParseBillingRunID(s); return err },
	}
	for _, p := range parsers {
		if p(v7.String()) != nil || p("x") == nil {
			t.Error("parser")
		}
	}
	constructors := []func(uuid.UUID) error{
		func(u uuid.UUID) error { _, err := domain.NewCustomerID(u); return err },
		func(u uuid.UUID) error { _, err := domain.NewServiceID(u); return err },
		func(u uuid.UUID) error { _, err := domain.NewInvoiceID(u); return err },
		func(u uuid.UUID) error { _, err := domain.NewPaymentID(u); return err },
		func(u uuid.UUID) error { _, err := domain.NewCreditNoteID(u); return err },
		func(u uuid.UUID) error { _, err := domain.NewLineID(u); return err },
		func(u uuid.UUID) error { _, err := domain.NewBillingRunID(u); return err },
	}
	for _, c := range constructors {
		if c(v7) != nil || c(uuid.New()) == nil {
			t.Error("constructor must accept v7 and refuse v4")
		}
	}
}

func TestIDsSortByTime(t *testing.T) {
	a, b := customerID(1), customerID(2)
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(customerID(1)) != 0 {
		t.Error("Compare")
	}
}

func TestIDJSON(t *testing.T) {
	type doc struct {
		A domain.InvoiceID `json:"a"`
		B domain.InvoiceID `json:"b"`
	}
	in := doc{A: invoiceID(1)}
	b := must(json.Marshal(in))
	if string(b) != `{"a":"`+uuidN(201)+`","b":null}` {
		t.Fatalf("got %s", b)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip %+v %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"a":"nope"}`), &out); err == nil {
		t.Error("bad id accepted")
	}
}

func TestTenantAndPlanCode(t *testing.T) {
	for _, ok := range []string{"acme", "a", "isp-1", "isp_2", strings.Repeat("a", 63)} {
		if _, err := domain.ParseTenantID(ok); err != nil {
			t.Errorf("tenant %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-acme", "Acme", "a/b", "a b", strings.Repeat("a", 64)} {
		if _, err := domain.ParseTenantID(bad); err == nil {
			t.Errorf("tenant %q accepted", bad)
		}
	}
	for _, ok := range []string{"fiber_100", "f", strings.Repeat("a", 64)} {
		if _, err := domain.ParsePlanCode(ok); err != nil {
			t.Errorf("plan %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "_x", "Fiber", "fiber-100", strings.Repeat("a", 65)} {
		if _, err := domain.ParsePlanCode(bad); err == nil {
			t.Errorf("plan %q accepted", bad)
		}
	}
	var tn domain.TenantID
	var pc domain.PlanCode
	if json.Unmarshal([]byte(`"acme"`), &tn) != nil || tn != tenant("acme") || tn.IsZero() ||
		json.Unmarshal([]byte(`"fiber_100"`), &pc) != nil || pc != planCode("fiber_100") ||
		string(must(json.Marshal(tn))) != `"acme"` || string(must(json.Marshal(domain.PlanCode{}))) != `null` {
		t.Error("JSON")
	}
}
