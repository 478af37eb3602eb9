package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
)

// FuzzParseMoney: parsing never panics, refuses with an *InvalidValueError, and every
// accepted amount is exact (no rounding) and round-trips through its string and its JSON.
// `go test` runs the seed corpus; `make fuzz` explores for a fixed time.
func FuzzParseMoney(f *testing.F) {
	for _, seed := range [][2]string{
		{"79.99", "USD"}, {"-0.01", "EUR"}, {"1000", "JPY"}, {"1.234", "BHD"}, {"0", "KWD"},
		{"999999999999999999.99", "USD"}, {"1e3", "USD"}, {"NaN", "USD"}, {"1.999", "USD"},
		{"-", "USD"}, {".5", "GBP"}, {"5.", "GBP"}, {"007", "USD"}, {"1", "usd"}, {"Infinity", "JPY"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, amount, code string) {
		m, err := domain.ParseMoney(amount, code)
		if err != nil {
			var iv *domain.InvalidValueError
			if !errors.As(err, &iv) {
				t.Fatalf("ParseMoney(%q, %q) failed with %T %v", amount, code, err, err)
			}
			return
		}
		if !decimal.RequireFromString(amount).Equal(m.Amount()) {
			t.Fatalf("ParseMoney(%q) rounded to %s", amount, m)
		}
		again, err := domain.ParseMoney(m.AmountString(), m.Currency().Code())
		if err != nil || !again.Equal(m) {
			t.Fatalf("%s does not round-trip through its string: %v", m, err)
		}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back domain.Money
		if err := json.Unmarshal(data, &back); err != nil || !back.Equal(m) {
			t.Fatalf("%s does not round-trip through JSON %s: %v", m, data, err)
		}
	})
}

// FuzzDecodeEvent: decoding arbitrary bytes as any event type never panics, and every
// accepted event re-encodes, decodes to an equal event, and re-encodes to the same bytes.
func FuzzDecodeEvent(f *testing.F) {
	types := domain.AllEvents()
	index := map[string]uint{}
	for i, e := range types {
		index[e.EventType()] = uint(i)
	}
	for _, e := range sampleEvents() {
		f.Add(index[e.EventType()], must(json.Marshal(e)))
	}
	f.Add(uint(0), []byte(`{"customer_id":null,"currency":"JPY","registered_at":"2026-01-01T00:00:00+05:30"}`))
	f.Add(uint(5), []byte(`{"total":{"amount":"1e3","currency":"USD"}}`))
	f.Add(uint(13), []byte(`{"static_ip":"fe80::1%eth0","plan":{"tax_rate":"0.5"}}`))
	f.Fuzz(func(t *testing.T, i uint, data []byte) {
		eventType := types[i%uint(len(types))].EventType()
		e, err := decodeEvent(eventType, data)
		if err != nil {
			return
		}
		encoded, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("accepted %s does not encode: %v", eventType, err)
		}
		back, err := decodeEvent(eventType, encoded)
		if err != nil || !equal(back, e) {
			t.Fatalf("%s does not round-trip: %v\n%s", eventType, err, encoded)
		}
		if again := must(json.Marshal(back)); !bytes.Equal(again, encoded) {
			t.Fatalf("%s re-encodes differently:\n%s\n%s", eventType, encoded, again)
		}
	})
}

// FuzzParseStream: every accepted stream id is rebuilt exactly from its parts.
func FuzzParseStream(f *testing.F) {
	for _, seed := range []string{
		"t-acme/customer-" + uuidN(1), "t-acme/service-" + uuidN(2), "t-isp-1/plan-fiber_100",
		"t-acme/billingrun-2026-01", "$all", "t-acme/plan-", "t-/plan-x", "t-acme/customer-x",
		"t-acme/receipt-" + uuidN(3), "t-acme/providerpayment-" + uuidN(4),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		tenant, kind, key, err := domain.ParseStream(id)
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("ParseStream(%q) failed with %v", id, err)
			}
			return
		}
		var rebuilt string
		switch kind {
		case domain.StreamCustomer:
			rebuilt = domain.CustomerStream(tenant, must(domain.ParseCustomerID(key)))
		case domain.StreamService:
			rebuilt = domain.ServiceStream(tenant, must(domain.ParseServiceID(key)))
		case domain.StreamPlan:
			rebuilt = domain.PlanStream(tenant, must(domain.ParsePlanCode(key)))
		case domain.StreamBillingRun:
			rebuilt = domain.BillingRunStream(tenant, must(domain.ParsePeriod(key)))
		case domain.StreamReceipt:
			rebuilt = domain.ReceiptStream(tenant, must(domain.ParseReceiptID(key)))
		case domain.StreamProviderPayment:
			rebuilt = domain.ProviderPaymentStream(tenant, must(domain.ParseReceiptID(key)))
		}
		if rebuilt != id {
			t.Fatalf("ParseStream(%q) rebuilds as %q", id, rebuilt)
		}
	})
}
