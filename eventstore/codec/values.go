package codec

import (
	"bytes"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
)

// A valueReader reads one value of a domain type from the start of data, which nobody has
// scanned yet, into p (a pointer to the type): n is the length of the value it read, and
// data[:n] is exactly the bytes the type's UnmarshalJSON would be given, decoded to the same
// value. It reports false, leaving *p unchanged, for anything it does not take (null, escapes,
// other spacing or key order, an invalid value); the decoder then finds the value's end itself
// and calls UnmarshalJSON, which gives the same result or the error. Each reader takes the exact
// bytes the domain's MarshalJSON writes, without allocating where it can: ids and Money are
// most of an event's values. FuzzValueReaders checks every reader against UnmarshalJSON.
type valueReader func(data []byte, p any) (n int, ok bool)

// valueReaders holds the reader of each domain value type events carry.
var valueReaders = map[reflect.Type]valueReader{
	reflect.TypeFor[domain.Money]():            readMoney,
	reflect.TypeFor[domain.Date]():             readDate,
	reflect.TypeFor[domain.Period]():           readPeriod,
	reflect.TypeFor[domain.Currency]():         readCurrency,
	reflect.TypeFor[domain.CustomerID]():       readID(domain.NewCustomerID),
	reflect.TypeFor[domain.ServiceID]():        readID(domain.NewServiceID),
	reflect.TypeFor[domain.InvoiceID]():        readID(domain.NewInvoiceID),
	reflect.TypeFor[domain.PaymentID]():        readID(domain.NewPaymentID),
	reflect.TypeFor[domain.CreditNoteID]():     readID(domain.NewCreditNoteID),
	reflect.TypeFor[domain.LineID]():           readID(domain.NewLineID),
	reflect.TypeFor[domain.BillingRunID]():     readID(domain.NewBillingRunID),
	reflect.TypeFor[domain.ReceiptID]():        readID(domain.NewReceiptID),
	reflect.TypeFor[domain.ReceiptReason]():    readText(domain.ParseReceiptReason),
	reflect.TypeFor[domain.ProviderBooking]():  readText(domain.ParseProviderBooking),
	reflect.TypeFor[domain.TenantID]():         readText(domain.ParseTenantID),
	reflect.TypeFor[domain.PlanCode]():         readText(domain.ParsePlanCode),
	reflect.TypeFor[domain.TaxRate]():          readText(domain.ParseTaxRate),
	reflect.TypeFor[domain.Quantity]():         readText(domain.ParseQuantity),
	reflect.TypeFor[domain.PaymentMethod]():    readText(domain.ParsePaymentMethod),
	reflect.TypeFor[domain.SuspensionReason](): readText(domain.ParseSuspensionReason),
}

// set stores v in p when p is a *T (always, for the readers registered above).
func set[T any](p any, v T) bool {
	dst, ok := p.(*T)
	if ok {
		*dst = v
	}
	return ok
}

// plainString returns the contents of the JSON string at the start of data and its length,
// when it has no escapes or control characters and is valid UTF-8.
func plainString(data []byte) (inner []byte, n int, ok bool) {
	end, plain, ok := scanString(data, 0)
	if !ok || !plain || !utf8.Valid(data[1:end-1]) {
		return nil, 0, false
	}
	return data[1 : end-1], end, true
}

// readText reads a plain JSON string with parse, as unmarshalling a JSON string or null with
// parse does for a non-null string.
//
// Each of these types has few values (tax rates, quantities, plan codes, tenants, methods,
// reasons), and the command side's cached accounts keep one or two per invoice line: a tax
// rate or quantity is a decimal, two heap objects, and a code a string. So each text is parsed
// once and its value shared by every event that carries it (the values are immutable), for
// the first maxInternedTexts texts of each type; any text past those is parsed each time.
func readText[T any](parse func(string) (T, error)) valueReader {
	var seen interned[T]
	return func(data []byte, p any) (int, bool) {
		inner, n, ok := plainString(data)
		if !ok {
			return 0, false
		}
		if v, ok := seen.get(inner); ok {
			return n, set(p, v)
		}
		text := string(inner)
		v, err := parse(text)
		if err != nil {
			return n, false
		}
		seen.add(text, v)
		return n, set(p, v)
	}
}

// maxInternedTexts bounds the texts readText keeps per type.
const maxInternedTexts = 256

// interned maps texts to the values parsed from them. Readers look it up without a lock: the
// map is never written once published; add publishes a copy with the new text.
type interned[T any] struct {
	m  atomic.Pointer[map[string]T]
	mu sync.Mutex // serializes add
}

func (in *interned[T]) get(text []byte) (T, bool) {
	if m := in.m.Load(); m != nil {
		v, ok := (*m)[string(text)]
		return v, ok
	}
	var zero T
	return zero, false
}

func (in *interned[T]) add(text string, v T) {
	in.mu.Lock()
	defer in.mu.Unlock()
	old := in.m.Load()
	if old != nil && len(*old) >= maxInternedTexts {
		return
	}
	m := make(map[string]T, 1)
	if old != nil {
		m = maps.Clone(*old)
	}
	m[text] = v
	in.m.Store(&m)
}

// readID reads a quoted canonical lower-case UUID ("01a23af8-256d-703d-969f-c72b215e96bb")
// into the id newID makes of it.
func readID[T any](newID func(uuid.UUID) (T, error)) valueReader {
	return func(data []byte, p any) (int, bool) {
		const n = 38
		if len(data) < n {
			return 0, false
		}
		u, ok := quotedUUID(data[:n])
		if !ok {
			return 0, false
		}
		id, err := newID(u)
		return n, err == nil && set(p, id)
	}
}

// quotedUUID returns the UUID of data when it is a JSON string holding a canonical lower-case
// UUID.
func quotedUUID(data []byte) (uuid.UUID, bool) {
	if len(data) != 38 || data[0] != '"' || data[37] != '"' ||
		data[9] != '-' || data[14] != '-' || data[19] != '-' || data[24] != '-' {
		return uuid.Nil, false
	}
	var u uuid.UUID
	bad := byte(0)
	for j, at := range uuidHexAt {
		hi, lo := hexValue[data[at]], hexValue[data[at+1]]
		bad |= hi | lo
		u[j] = hi<<4 | lo&0x0f
	}
	if bad&0xf0 != 0 {
		return uuid.Nil, false
	}
	return u, true
}

// uuidHexAt is where each byte's two hex digits start in a quoted canonical UUID.
var uuidHexAt = [16]int{1, 3, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27, 29, 31, 33, 35}

// hexValue maps '0'-'9' and 'a'-'f' to their values and every other byte to 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// readDate reads "YYYY-MM-DD" holding a valid date (what domain.ParseDate accepts).
func readDate(data []byte, p any) (int, bool) {
	const n = len(`"2006-01-02"`)
	if len(data) < n || data[0] != '"' || data[5] != '-' || data[8] != '-' || data[11] != '"' {
		return 0, false
	}
	y, okY := fixedDigits(data[1:5])
	m, okM := fixedDigits(data[6:8])
	day, okD := fixedDigits(data[9:11])
	if !okY || !okM || !okD {
		return 0, false
	}
	v, err := domain.NewDate(y, time.Month(m), day)
	return n, err == nil && set(p, v)
}

// readPeriod reads "YYYY-MM" holding a valid month (what domain.ParsePeriod accepts).
func readPeriod(data []byte, p any) (int, bool) {
	const n = len(`"2006-01"`)
	if len(data) < n || data[0] != '"' || data[5] != '-' || data[8] != '"' {
		return 0, false
	}
	y, okY := fixedDigits(data[1:5])
	m, okM := fixedDigits(data[6:8])
	if !okY || !okM {
		return 0, false
	}
	v, err := domain.NewPeriod(y, time.Month(m))
	return n, err == nil && set(p, v)
}

// fixedDigits reads b, ASCII digits only.
func fixedDigits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// currencyByCode holds each supported Currency by its code, so a code read from bytes finds
// its Currency without allocating a string.
var currencyByCode = func() map[string]domain.Currency {
	m := map[string]domain.Currency{}
	for _, code := range domain.Currencies() {
		c, err := domain.ParseCurrency(code)
		if err != nil {
			panic("invariant: domain.Currencies lists " + code + ", which ParseCurrency refuses")
		}
		m[code] = c
	}
	return m
}()

// readCurrency reads a quoted supported code ("USD").
func readCurrency(data []byte, p any) (int, bool) {
	const n = len(`"USD"`)
	if len(data) < n || data[0] != '"' || data[4] != '"' {
		return 0, false
	}
	c, ok := currencyByCode[string(data[1:4])]
	return n, ok && set(p, c)
}

// readMoney reads {"amount":"A","currency":"C"} (see quickMoney).
func readMoney(data []byte, p any) (int, bool) {
	const head, mid, tail = `{"amount":"`, `","currency":"`, `"}`
	if len(data) < len(head) || string(data[:len(head)]) != head {
		return 0, false
	}
	a := bytes.IndexByte(data[len(head):], '"')
	n := len(head) + a + len(mid) + 3 + len(tail)
	if a < 0 || n > len(data) {
		return 0, false
	}
	v, ok := quickMoney(data[:n])
	return n, ok && set(p, v)
}

// pow10 holds 10^0 .. 10^18.
var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// quickMoney returns the Money of data when it is exactly {"amount":"A","currency":"C"} with
// C a supported currency and A a valid amount in it (an optional '-', no leading zeros, at
// most the currency's decimals) that fits in 18 digits.
func quickMoney(data []byte) (domain.Money, bool) {
	const head, mid, tail = `{"amount":"`, `","currency":"`, `"}`
	if len(data) < len(head)+1+len(mid)+3+len(tail) || string(data[:len(head)]) != head ||
		string(data[len(data)-len(tail):]) != tail {
		return domain.Money{}, false
	}
	rest := data[len(head) : len(data)-len(tail)]
	// The currency code is the last three bytes, after mid.
	if len(rest) < len(mid)+3 || string(rest[len(rest)-3-len(mid):len(rest)-3]) != mid {
		return domain.Money{}, false
	}
	c, ok := currencyByCode[string(rest[len(rest)-3:])]
	if !ok {
		return domain.Money{}, false
	}
	coef, ok := minorUnitsOf(rest[:len(rest)-3-len(mid)], int(c.MinorUnits()))
	if !ok {
		return domain.Money{}, false
	}
	return domain.MoneyFromMinorUnits(coef, c), true
}

// minorUnitsOf reads amount ("-12.5") as a count of minor units of a currency with places
// decimals (-1250 for 2): an optional '-', no leading zeros, at most places decimals, at most
// 18 digits in all.
func minorUnitsOf(amount []byte, places int) (int64, bool) {
	neg := len(amount) > 0 && amount[0] == '-'
	if neg {
		amount = amount[1:]
	}
	intPart, frac := amount, []byte(nil)
	if dot := bytes.IndexByte(amount, '.'); dot >= 0 {
		intPart, frac = amount[:dot], amount[dot+1:]
		if len(frac) == 0 {
			return 0, false
		}
	}
	if len(intPart) == 0 || (len(intPart) > 1 && intPart[0] == '0') || len(frac) > places ||
		len(intPart)+places > len(pow10)-1 {
		return 0, false
	}
	var coef int64
	for _, part := range [2][]byte{intPart, frac} {
		for _, d := range part {
			if d < '0' || d > '9' {
				return 0, false
			}
			coef = coef*10 + int64(d-'0')
		}
	}
	coef *= pow10[places-len(frac)]
	if neg {
		coef = -coef
	}
	return coef, true
}
