package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

// t0 is the default "now" of the scenarios: 2026-01-10 09:00 UTC.
var t0 = time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)

// must returns v, panicking on err: test literals are programmer-written and always valid.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func usd(amount string) domain.Money { return must(domain.ParseMoney(amount, "USD")) }
func money(amount, currency string) domain.Money {
	return must(domain.ParseMoney(amount, currency))
}
func currency(code string) domain.Currency { return must(domain.ParseCurrency(code)) }
func date(s string) domain.Date            { return must(domain.ParseDate(s)) }
func period(s string) domain.Period        { return must(domain.ParsePeriod(s)) }
func rate(s string) domain.TaxRate         { return must(domain.ParseTaxRate(s)) }
func qty(s string) domain.Quantity         { return must(domain.ParseQuantity(s)) }
func planCode(s string) domain.PlanCode    { return must(domain.ParsePlanCode(s)) }
func tenant(s string) domain.TenantID      { return must(domain.ParseTenantID(s)) }

// at returns 09:00 UTC on the given day.
func at(day string) time.Time { return date(day).Time().Add(9 * time.Hour) }

// uuidN is a valid, deterministic UUIDv7 string numbered n.
func uuidN(n int) string { return fmt.Sprintf("01940000-0000-7000-8000-%012d", n) }

func customerID(n int) domain.CustomerID     { return must(domain.ParseCustomerID(uuidN(100 + n))) }
func invoiceID(n int) domain.InvoiceID       { return must(domain.ParseInvoiceID(uuidN(200 + n))) }
func paymentID(n int) domain.PaymentID       { return must(domain.ParsePaymentID(uuidN(300 + n))) }
func creditNoteID(n int) domain.CreditNoteID { return must(domain.ParseCreditNoteID(uuidN(400 + n))) }
func lineID(n int) domain.LineID             { return must(domain.ParseLineID(uuidN(500 + n))) }
func serviceID(n int) domain.ServiceID       { return must(domain.ParseServiceID(uuidN(600 + n))) }
func billingRunID(n int) domain.BillingRunID { return must(domain.ParseBillingRunID(uuidN(700 + n))) }
func receiptID(n int) domain.ReceiptID       { return must(domain.ParseReceiptID(uuidN(800 + n))) }

// assertError checks got against want: errors.Is for sentinels, or errors.As into want's
// type followed by a field-by-field comparison for typed errors.
func assertError(t *testing.T, got, want error) {
	t.Helper()
	if got == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if errors.Is(got, want) {
		return
	}
	target := reflect.New(reflect.TypeOf(want))
	if !errors.As(got, target.Interface()) {
		t.Fatalf("got error %T %q, want %T %q", got, got, want, want)
	}
	if !equal(target.Elem().Interface(), want) {
		t.Fatalf("got error %q, want %q", got, want)
	}
}

// equal compares deeply, using a type's own Equal method where it has one (Money, TaxRate,
// Quantity, time.Time, decimal.Decimal), and treating nil and empty slices and maps alike.
func equal(a, b any) bool { return equalValues(reflect.ValueOf(a), reflect.ValueOf(b)) }

func equalValues(a, b reflect.Value) bool {
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid()
	}
	if a.Type() != b.Type() {
		return false
	}
	if eq, ok := callEqual(a, b); ok {
		return eq
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalValues(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		return a.Len() == b.Len() && equalElements(a, b)
	case reflect.Map:
		return equalMaps(a, b)
	}
	return a.Equal(b)
}

func callEqual(a, b reflect.Value) (bool, bool) {
	if !a.CanInterface() || !b.CanInterface() {
		return false, false
	}
	m := a.MethodByName("Equal")
	if !m.IsValid() || m.Type().NumIn() != 1 || m.Type().In(0) != a.Type() || m.Type().NumOut() != 1 {
		return false, false
	}
	return m.Call([]reflect.Value{b})[0].Bool(), true
}

func equalElements(a, b reflect.Value) bool {
	for i := range a.Len() {
		if !equalValues(a.Index(i), b.Index(i)) {
			return false
		}
	}
	return true
}

func equalMaps(a, b reflect.Value) bool {
	if a.Len() != b.Len() {
		return false
	}
	for _, k := range a.MapKeys() {
		bv := b.MapIndex(k)
		if !bv.IsValid() || !equalValues(a.MapIndex(k), bv) {
			return false
		}
	}
	return true
}

// asError is errors.As, for tests that only need the yes or no.
func asError[T error](err error, target *T) bool { return errors.As(err, target) }

// eventAs returns e as a T, panicking if it is another event: a broken fixture.
func eventAs[T domain.Event](e domain.Event) T {
	v, ok := e.(T)
	if !ok {
		panic(fmt.Sprintf("got %T, want %T", e, v))
	}
	return v
}

// decodeEvent decodes data with encoding/json as the event type named eventType, so these
// tests hold the JSON the domain's own types read and write; the stored form, its fast path
// and its upcasters are eventstore/codec's, and tested there.
func decodeEvent(eventType string, data []byte) (domain.Event, error) {
	for _, e := range domain.AllEvents() {
		if e.EventType() != eventType {
			continue
		}
		p := reflect.New(reflect.TypeOf(e))
		if err := json.Unmarshal(data, p.Interface()); err != nil {
			return nil, err
		}
		ev, ok := p.Elem().Interface().(domain.Event)
		if !ok {
			return nil, fmt.Errorf("%T is not an event", p.Elem().Interface())
		}
		return ev, nil
	}
	return nil, fmt.Errorf("%w: unknown event type %q", domain.ErrInvalid, eventType)
}
