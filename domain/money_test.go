package domain_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
)

func TestParseMoney(t *testing.T) {
	accept := []struct{ amount, currency, want string }{
		{"79.99", "USD", "79.99 USD"},
		{"79.9", "USD", "79.90 USD"},
		{"5", "EUR", "5.00 EUR"},
		{"0", "GBP", "0.00 GBP"},
		{"-12.5", "USD", "-12.50 USD"},
		{"-0.00", "USD", "0.00 USD"},
		{"1000", "JPY", "1000 JPY"},
		{"1.234", "BHD", "1.234 BHD"},
		{"0.5", "KWD", "0.500 KWD"},
		{"999999999999999999.99", "USD", "999999999999999999.99 USD"},
	}
	for _, tc := range accept {
		m, err := domain.ParseMoney(tc.amount, tc.currency)
		if err != nil {
			t.Errorf("ParseMoney(%q, %q): %v", tc.amount, tc.currency, err)
			continue
		}
		if m.String() != tc.want {
			t.Errorf("ParseMoney(%q, %q) = %s, want %s", tc.amount, tc.currency, m, tc.want)
		}
	}
	reject := []struct{ amount, currency string }{
		{"79.999", "USD"}, // more decimals than the currency has
		{"1.5", "JPY"},
		{"1.2345", "BHD"},
		{"1e3", "USD"}, {"1E3", "USD"}, {"NaN", "USD"}, {"Inf", "USD"}, {"-Infinity", "USD"},
		{"+5", "USD"}, {" 5", "USD"}, {"5 ", "USD"}, {"05", "USD"}, {"5.", "USD"}, {".5", "USD"},
		{"", "USD"}, {"-", "USD"}, {"1,000.00", "USD"}, {"0x10", "USD"}, {"−5", "USD"},
		{"1000000000000000000", "USD"}, // 19 integer digits
		{"5", "usd"}, {"5", "XXX"}, {"5", ""},
	}
	for _, tc := range reject {
		_, err := domain.ParseMoney(tc.amount, tc.currency)
		var iv *domain.InvalidValueError
		if !errors.As(err, &iv) || !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ParseMoney(%q, %q) = %v, want an *InvalidValueError", tc.amount, tc.currency, err)
		}
	}
}

func TestParseAmountNeedsCurrency(t *testing.T) {
	if _, err := domain.ParseAmount("1", domain.Currency{}); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
}

func TestCurrencyMinorUnits(t *testing.T) {
	want := map[string]int32{"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "BHD": 3, "KWD": 3, "CAD": 2,
		"AUD": 2, "CHF": 2, "NGN": 2, "KES": 2, "ZAR": 2, "INR": 2, "UGX": 0}
	for code, units := range want {
		if got := currency(code).MinorUnits(); got != units {
			t.Errorf("%s has %d minor units, want %d", code, got, units)
		}
	}
	if len(domain.Currencies()) < len(want) || domain.Currencies()[0] != "AUD" {
		t.Errorf("Currencies() = %v", domain.Currencies())
	}
	if (domain.Currency{}).String() != "(no currency)" || !(domain.Currency{}).IsZero() {
		t.Error("zero Currency must be detectably invalid")
	}
}

// Worked example from DESIGN.md: broadband 79.99 plus phone 29.99 is 109.98.
func TestMoneyAddWorkedExample(t *testing.T) {
	got := must(usd("79.99").Add(usd("29.99")))
	if !got.Equal(usd("109.98")) {
		t.Fatalf("79.99 + 29.99 = %s, want 109.98 USD", got)
	}
}

func TestMoneyArithmetic(t *testing.T) {
	a, b := usd("10.00"), usd("2.50")
	if got := must(a.Sub(b)); !got.Equal(usd("7.50")) {
		t.Errorf("Sub = %s", got)
	}
	if c := must(a.Cmp(b)); c != 1 {
		t.Errorf("Cmp = %d", c)
	}
	if !a.Neg().Equal(usd("-10")) || !a.Neg().Abs().Equal(a) || !a.Neg().IsNegative() || !a.IsPositive() {
		t.Error("Neg/Abs/IsNegative/IsPositive")
	}
	if got := must(domain.Sum(currency("USD"), a, b, b)); !got.Equal(usd("15")) {
		t.Errorf("Sum = %s", got)
	}
	if !domain.MoneyFromMinorUnits(7999, currency("USD")).Equal(usd("79.99")) ||
		!domain.MoneyFromMinorUnits(1234, currency("BHD")).Equal(money("1.234", "BHD")) {
		t.Error("MoneyFromMinorUnits")
	}
	if !domain.Zero(currency("JPY")).IsZero() || domain.Zero(currency("JPY")).AmountString() != "0" {
		t.Error("Zero(JPY)")
	}
	if !usd("1").Amount().Equal(decimal.NewFromInt(1)) || usd("1").Currency() != currency("USD") {
		t.Error("accessors")
	}
}

func TestMoneyAcrossCurrenciesIsAnError(t *testing.T) {
	usd, eur := usd("1"), money("1", "EUR")
	want := &domain.CurrencyMismatchError{Want: currency("USD"), Got: currency("EUR")}
	_, errAdd := usd.Add(eur)
	_, errSub := usd.Sub(eur)
	_, errCmp := usd.Cmp(eur)
	_, errSum := domain.Sum(currency("USD"), usd, eur)
	for _, err := range []error{errAdd, errSub, errCmp, errSum} {
		assertError(t, err, want)
		if !errors.Is(err, domain.ErrRejected) || err.Error() != "currency mismatch: want USD, got EUR" {
			t.Errorf("error %q", err)
		}
	}
	if _, err := (domain.Money{}).Add(domain.Money{}); err == nil {
		t.Error("zero Money must not add")
	}
}

// Rounding is half away from zero to the currency's minor unit.
func TestMoneyMulRoundsHalfUp(t *testing.T) {
	cases := []struct {
		m      domain.Money
		factor string
		want   domain.Money
	}{
		{usd("10.00"), "0.0725", usd("0.73")},                    // 0.725 → 0.73
		{usd("10.00"), "0.0724", usd("0.72")},                    // 0.724 → 0.72
		{usd("-10.00"), "0.0725", usd("-0.73")},                  // half away from zero
		{money("1000", "JPY"), "0.0825", money("83", "JPY")},     // 82.5 → 83
		{money("1000", "JPY"), "0.0824", money("82", "JPY")},     // 82.4 → 82
		{money("1.000", "BHD"), "0.0005", money("0.001", "BHD")}, // 0.0005 → 0.001
		{money("1.000", "BHD"), "0.0004", money("0.000", "BHD")}, // 0.0004 → 0.000
		{money("10.005", "KWD"), "0.1", money("1.001", "KWD")},   // 1.0005 → 1.001
	}
	for _, tc := range cases {
		if got := tc.m.Mul(decimal.RequireFromString(tc.factor)); !got.Equal(tc.want) {
			t.Errorf("%s × %s = %s, want %s", tc.m, tc.factor, got, tc.want)
		}
	}
}

// Worked example from DESIGN.md / issue 3: fiber_100 at 79.99 from 2026-01-10 bills 22 of
// January's 31 days = 56.77.
func TestProrateWorkedExamples(t *testing.T) {
	cases := []struct {
		price       domain.Money
		used, total int
		want        domain.Money
	}{
		{usd("79.99"), 22, 31, usd("56.77")}, // 56.7671 → 56.77
		{usd("79.99"), 31, 31, usd("79.99")},
		{usd("79.99"), 0, 31, usd("0")},
		{usd("29.99"), 14, 28, usd("15.00")},                 // 14.995 → 15.00 (half-up)
		{money("5000", "JPY"), 10, 31, money("1613", "JPY")}, // 1612.90 → 1613
		{money("5000", "JPY"), 1, 30, money("167", "JPY")},   // 166.67 → 167
		{money("25.000", "BHD"), 22, 31, money("17.742", "BHD")},
		{money("10.000", "KWD"), 15, 30, money("5.000", "KWD")},
	}
	for _, tc := range cases {
		got, err := tc.price.Prorate(tc.used, tc.total)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%s × %d/%d = %s (%v), want %s", tc.price, tc.used, tc.total, got, err, tc.want)
		}
	}
	for _, bad := range [][2]int{{1, 0}, {-1, 31}, {32, 31}} {
		if _, err := usd("1").Prorate(bad[0], bad[1]); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("Prorate(%d, %d) = %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
}

func TestMoneyJSON(t *testing.T) {
	cases := map[string]domain.Money{
		`{"amount":"79.99","currency":"USD"}`: usd("79.99"),
		`{"amount":"79.90","currency":"USD"}`: usd("79.9"),
		`{"amount":"100","currency":"JPY"}`:   money("100", "JPY"),
		`{"amount":"0.500","currency":"BHD"}`: money("0.5", "BHD"),
		`null`:                                {},
	}
	for text, m := range cases {
		b, err := json.Marshal(m)
		if err != nil || string(b) != text {
			t.Errorf("Marshal(%s) = %s (%v), want %s", m, b, err, text)
		}
		var back domain.Money
		if err := json.Unmarshal([]byte(text), &back); err != nil || !back.Equal(m) {
			t.Errorf("Unmarshal(%s) = %s (%v)", text, back, err)
		}
	}
	for _, bad := range []string{`{"amount":79.99,"currency":"USD"}`, `{"amount":"1.999","currency":"USD"}`,
		`{"amount":"1","currency":"usd"}`, `"79.99 USD"`, `{"amount":"1e2","currency":"USD"}`, `[]`} {
		var m domain.Money
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("Unmarshal(%s) accepted %s", bad, m)
		}
	}
}

func TestTaxRateAndQuantity(t *testing.T) {
	for s, want := range map[string]string{"0.20": "0.2", "0": "0", "1": "1", "0.075": "0.075", "0.000001": "0.000001"} {
		r, err := domain.ParseTaxRate(s)
		if err != nil || r.String() != want || !r.Equal(rate(want)) {
			t.Errorf("ParseTaxRate(%q) = %s (%v), want %s", s, r, err, want)
		}
	}
	for _, bad := range []string{"1.01", "-0.1", "0.0000001", "20%", "", "2"} {
		if _, err := domain.ParseTaxRate(bad); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ParseTaxRate(%q) accepted", bad)
		}
	}
	for s, want := range map[string]string{"1": "1", "2.50": "2.5", "0.333333": "0.333333", "999999": "999999"} {
		q, err := domain.ParseQuantity(s)
		if err != nil || q.String() != want || !q.Equal(qty(want)) || q.IsZero() {
			t.Errorf("ParseQuantity(%q) = %s (%v), want %s", s, q, err, want)
		}
	}
	for _, bad := range []string{"0", "-1", "1000000", "0.0000001", "1e2"} {
		if _, err := domain.ParseQuantity(bad); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ParseQuantity(%q) accepted", bad)
		}
	}
	if !domain.QuantityOne().Equal(qty("1")) || !rate("0.2").Decimal().Equal(decimal.RequireFromString("0.2")) ||
		!qty("2").Decimal().Equal(decimal.NewFromInt(2)) {
		t.Error("QuantityOne / Decimal")
	}
	var r domain.TaxRate
	var q domain.Quantity
	if json.Unmarshal([]byte(`"0.075"`), &r) != nil || !r.Equal(rate("0.075")) ||
		json.Unmarshal([]byte(`"2.5"`), &q) != nil || !q.Equal(qty("2.5")) ||
		json.Unmarshal([]byte(`0.2`), &r) == nil {
		t.Error("TaxRate/Quantity JSON")
	}
}
