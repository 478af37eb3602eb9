package domain

import (
	"fmt"
	"time"
)

// Years a Date or Period may have.
const (
	MinYear = 1900
	MaxYear = 9999
)

// dateLayout is how dates are written everywhere: "2026-01-10".
const dateLayout = "2006-01-02"

// Date is a calendar date (no time of day, no zone). Domain dates are UTC dates: DateOf(now)
// is "today". The zero Date is invalid and encodes as JSON null.
type Date struct {
	year  int
	month time.Month
	day   int
}

// NewDate returns the date year-month-day, or an *InvalidValueError if it does not exist or
// its year is outside [MinYear, MaxYear].
func NewDate(year int, month time.Month, day int) (Date, error) {
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	d := DateOf(t)
	if d.year != year || d.month != month || d.day != day || year < MinYear || year > MaxYear {
		return Date{}, invalid("date", fmt.Sprintf("%04d-%02d-%02d", year, int(month), day), "no such date")
	}
	return d, nil
}

// ParseDate parses "2026-01-10" strictly (four-digit year, two-digit month and day).
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return Date{}, invalid("date", s, "want YYYY-MM-DD")
	}
	return NewDate(t.Year(), t.Month(), t.Day())
}

// DateOf returns the UTC calendar date of instant t.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{year: y, month: m, day: d}
}

// IsZero reports whether d is the zero (invalid) Date.
func (d Date) IsZero() bool { return d == Date{} }

// Year returns the year.
func (d Date) Year() int { return d.year }

// Month returns the month.
func (d Date) Month() time.Month { return d.month }

// Day returns the day of the month.
func (d Date) Day() int { return d.day }

// Time returns midnight UTC at the start of d.
func (d Date) Time() time.Time { return time.Date(d.year, d.month, d.day, 0, 0, 0, 0, time.UTC) }

// String returns "2026-01-10", or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format(dateLayout)
}

// AddDays returns the date n days after d (before, for negative n).
func (d Date) AddDays(n int) Date { return DateOf(d.Time().AddDate(0, 0, n)) }

// DaysUntil returns the number of days from d to o: 1 from Jan 10 to Jan 11, negative if o is
// earlier.
func (d Date) DaysUntil(o Date) int { return int(o.Time().Sub(d.Time()).Hours() / 24) }

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int { return d.Time().Compare(o.Time()) }

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is later than o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// Period returns the billing month d falls in.
func (d Date) Period() Period { return Period{year: d.year, month: d.month} }

// MarshalJSON encodes "2026-01-10", and the zero Date as null.
func (d Date) MarshalJSON() ([]byte, error) { return marshalNullable(d.String(), d.IsZero()) }

// UnmarshalJSON decodes what MarshalJSON writes; null gives the zero Date.
func (d *Date) UnmarshalJSON(data []byte) error { return unmarshalNullable(data, d, ParseDate) }

// laterDate returns the later of a and b.
func laterDate(a, b Date) Date {
	if a.After(b) {
		return a
	}
	return b
}

// DateRange is the half-open range of days [From, To). A zero To means "still open".
type DateRange struct {
	From Date `json:"from"`
	To   Date `json:"to"`
}

// Contains reports whether day is in the range.
func (r DateRange) Contains(day Date) bool {
	return !day.Before(r.From) && (r.To.IsZero() || day.Before(r.To))
}

// businessDate returns the business date a command takes effect: d, or today (the date of
// now) when d is zero. A date after today is an *InvalidValueError naming field: only service
// lifecycle changes may be scheduled ahead.
func businessDate(field string, d Date, now time.Time) (Date, error) {
	today := DateOf(now)
	switch {
	case d.IsZero():
		return today, nil
	case d.After(today):
		return Date{}, invalid(field, d.String(), "is in the future (today is "+today.String()+")")
	}
	return d, nil
}
