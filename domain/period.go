package domain

import (
	"fmt"
	"time"
)

// Period is a billing month such as 2026-01. Its days run from Start (the 1st, inclusive) to
// End (the 1st of the next month, exclusive). The zero Period is invalid and encodes as null.
type Period struct {
	year  int
	month time.Month
}

// NewPeriod returns the period of the given month, or an *InvalidValueError.
func NewPeriod(year int, month time.Month) (Period, error) {
	if year < MinYear || year > MaxYear || month < time.January || month > time.December {
		return Period{}, invalid("period", fmt.Sprintf("%04d-%02d", year, int(month)), "no such month")
	}
	return Period{year: year, month: month}, nil
}

// ParsePeriod parses "2026-01" strictly.
func ParsePeriod(s string) (Period, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return Period{}, invalid("period", s, "want YYYY-MM")
	}
	return NewPeriod(t.Year(), t.Month())
}

// IsZero reports whether p is the zero (invalid) Period.
func (p Period) IsZero() bool { return p == Period{} }

// String returns "2026-01", or "" for the zero Period.
func (p Period) String() string {
	if p.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d", p.year, int(p.month))
}

// Start returns the first day of the period.
func (p Period) Start() Date { return Date{year: p.year, month: p.month, day: 1} }

// End returns the first day after the period (exclusive end).
func (p Period) End() Date { return DateOf(p.Start().Time().AddDate(0, 1, 0)) }

// LastDay returns the last day of the period (inclusive).
func (p Period) LastDay() Date { return p.End().AddDays(-1) }

// Days returns the number of days in the period (28 to 31).
func (p Period) Days() int { return p.Start().DaysUntil(p.End()) }

// Contains reports whether d falls in the period.
func (p Period) Contains(d Date) bool { return d.year == p.year && d.month == p.month }

// Next returns the following period.
func (p Period) Next() Period { return p.End().Period() }

// Compare returns -1, 0 or +1 as p is before, equal to or after o.
func (p Period) Compare(o Period) int { return p.Start().Compare(o.Start()) }

// MarshalJSON encodes "2026-01", and the zero Period as null.
func (p Period) MarshalJSON() ([]byte, error) { return marshalNullable(p.String(), p.IsZero()) }

// UnmarshalJSON decodes what MarshalJSON writes; null gives the zero Period.
func (p *Period) UnmarshalJSON(data []byte) error { return unmarshalNullable(data, p, ParsePeriod) }
