package domain

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on command input. Each is checked by Decide before any event is produced.
const (
	// MaxNameRunes bounds customer and plan names.
	MaxNameRunes = 200
	// MaxDescriptionRunes bounds invoice line descriptions (room for a plan name and code).
	MaxDescriptionRunes = 400
	// MaxAddressRunes bounds billing and install addresses.
	MaxAddressRunes = 500
	// MaxReasonRunes bounds free-text reasons (void, refund, credit note, termination).
	MaxReasonRunes = 500
	// MaxEmailBytes is the longest e-mail address (RFC 5321 path limit).
	MaxEmailBytes = 254
	// MaxExternalReferenceBytes bounds a payment's reference at the bank or processor.
	MaxExternalReferenceBytes = 128
	// MaxInvoiceLines is the most lines one invoice may have.
	MaxInvoiceLines = 500
	// MaxCommandAmountDigits bounds every amount in a command below 10^12 major units. What
	// the domain computes from them (a quantity times a price, sums of lines, a customer's
	// credit) is bounded separately, by MaxTotalAmountDigits.
	MaxCommandAmountDigits = 12
)

var (
	emailPattern         = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	phonePattern         = regexp.MustCompile(`^\+?[0-9][0-9 -]{3,30}$`)
	invoiceNumberPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/._-]{0,63}$`)
	taxClassPattern      = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	ontSerialPattern     = regexp.MustCompile(`^[A-Za-z0-9-]{4,32}$`)
)

// checkText accepts valid UTF-8 without control characters or surrounding spaces, of at most
// maxRunes runes; required text must not be empty.
func checkText(field, s string, maxRunes int, required bool) error {
	switch {
	case s == "" && required:
		return invalid(field, s, "required")
	case !utf8.ValidString(s):
		return invalid(field, s, "not valid UTF-8")
	case utf8.RuneCountInString(s) > maxRunes:
		return invalid(field, s, fmt.Sprintf("longer than %d characters", maxRunes))
	case strings.TrimSpace(s) != s:
		return invalid(field, s, "has leading or trailing spaces")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return invalid(field, s, "contains control characters")
	}
	return nil
}

// checkPattern accepts s if it matches p (and, when optional, if it is empty).
func checkPattern(field, s string, p *regexp.Regexp, optional bool, want string) error {
	if (s == "" && optional) || p.MatchString(s) {
		return nil
	}
	return invalid(field, s, want)
}

// checkAmount accepts m if it is in currency want, below 10^MaxCommandAmountDigits in
// magnitude, and positive (or, when allowZero, zero).
func checkAmount(field string, m Money, want Currency, allowZero bool) error {
	if m.Currency() != want {
		return &CurrencyMismatchError{Want: want, Got: m.Currency()}
	}
	if !m.absBelowPow10(MaxCommandAmountDigits) {
		return invalid(field, m.AmountString(), fmt.Sprintf("must be below 10^%d", MaxCommandAmountDigits))
	}
	if m.IsNegative() || (m.IsZero() && !allowZero) {
		return invalid(field, m.AmountString(), "must be greater than zero")
	}
	return nil
}

// checkID rejects the zero id.
func checkID[K idKind](id ID[K]) error {
	if id.IsZero() {
		var k K
		return invalid(k.kindName()+" id", "", "missing")
	}
	return nil
}

// checkDate rejects the zero date.
func checkDate(field string, d Date) error {
	if d.IsZero() {
		return invalid(field, "", "missing")
	}
	return nil
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
