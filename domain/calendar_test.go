package domain_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

func TestParseDate(t *testing.T) {
	d := date("2026-01-10")
	if d.Year() != 2026 || d.Month() != time.January || d.Day() != 10 || d.String() != "2026-01-10" {
		t.Fatalf("got %v", d)
	}
	for _, bad := range []string{"2026-02-30", "2026-1-10", "26-01-10", "2026-01-10T00:00:00Z", "", "1899-12-31", "2026/01/10"} {
		if _, err := domain.ParseDate(bad); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
	if _, err := domain.NewDate(2024, time.February, 29); err != nil {
		t.Errorf("2024-02-29: %v", err)
	}
	if (domain.Date{}).String() != "" || !(domain.Date{}).IsZero() {
		t.Error("zero Date")
	}
}

func TestDateArithmetic(t *testing.T) {
	d := date("2026-01-31")
	if d.AddDays(1) != date("2026-02-01") || d.AddDays(-31) != date("2025-12-31") {
		t.Error("AddDays")
	}
	if date("2026-01-10").DaysUntil(date("2026-02-01")) != 22 || date("2026-02-01").DaysUntil(date("2026-01-10")) != -22 {
		t.Error("DaysUntil")
	}
	if !d.After(date("2026-01-30")) || !date("2026-01-30").Before(d) || d.Compare(date("2026-01-31")) != 0 {
		t.Error("Compare")
	}
	// DateOf takes the UTC date of an instant.
	late := time.Date(2026, 1, 10, 23, 30, 0, 0, time.FixedZone("UTC-5", -5*3600))
	if domain.DateOf(late) != date("2026-01-11") {
		t.Errorf("DateOf = %v", domain.DateOf(late))
	}
	if d.Period() != period("2026-01") {
		t.Error("Period")
	}
}

func TestDateRange(t *testing.T) {
	r := domain.DateRange{From: date("2026-01-10"), To: date("2026-01-15")}
	if r.Contains(date("2026-01-09")) || !r.Contains(date("2026-01-10")) || !r.Contains(date("2026-01-14")) || r.Contains(date("2026-01-15")) {
		t.Error("[From, To)")
	}
	open := domain.DateRange{From: date("2026-01-10")}
	if !open.Contains(date("2030-01-01")) {
		t.Error("open range")
	}
}

func TestPeriod(t *testing.T) {
	cases := []struct {
		p          string
		days       int
		start, end string
	}{
		{"2026-01", 31, "2026-01-01", "2026-02-01"},
		{"2026-02", 28, "2026-02-01", "2026-03-01"},
		{"2024-02", 29, "2024-02-01", "2024-03-01"},
		{"2026-04", 30, "2026-04-01", "2026-05-01"},
		{"2026-12", 31, "2026-12-01", "2027-01-01"},
	}
	for _, tc := range cases {
		p := period(tc.p)
		if p.Days() != tc.days || p.Start() != date(tc.start) || p.End() != date(tc.end) || p.String() != tc.p {
			t.Errorf("%s: days %d start %s end %s", p, p.Days(), p.Start(), p.End())
		}
		if !p.Contains(p.Start()) || !p.Contains(p.LastDay()) || p.Contains(p.End()) {
			t.Errorf("%s Contains", p)
		}
	}
	if period("2026-12").Next() != period("2027-01") || period("2026-01").Compare(period("2026-02")) != -1 {
		t.Error("Next/Compare")
	}
	for _, bad := range []string{"2026-13", "2026-1", "2026", "", "2026-01-01"} {
		if _, err := domain.ParsePeriod(bad); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ParsePeriod(%q) accepted", bad)
		}
	}
	if _, err := domain.NewPeriod(2026, 0); err == nil {
		t.Error("month 0")
	}
	if (domain.Period{}).String() != "" || !(domain.Period{}).IsZero() {
		t.Error("zero Period")
	}
}

func TestCalendarJSON(t *testing.T) {
	type doc struct {
		D domain.Date   `json:"d"`
		P domain.Period `json:"p"`
		Z domain.Date   `json:"z"`
	}
	in := doc{D: date("2026-01-10"), P: period("2026-01")}
	b := must(json.Marshal(in))
	if string(b) != `{"d":"2026-01-10","p":"2026-01","z":null}` {
		t.Fatalf("got %s", b)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip: %+v %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"2026-13-01"}`), &out); err == nil {
		t.Error("bad date accepted")
	}
	if err := json.Unmarshal([]byte(`{"p":202601}`), &out); err == nil {
		t.Error("numeric period accepted")
	}
}
