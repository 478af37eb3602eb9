package domain

import "fmt"

// LineInput is an invoice line as a command gives it; the domain computes Net and Tax.
// ServiceID, PlanCode, Period, Proration, From and Through are optional (set on a service's
// lines, see InvoiceLine). A negative UnitPrice makes a credit line (a discount, or days taken
// back).
type LineInput struct {
	LineID      LineID
	Description string
	Quantity    Quantity
	UnitPrice   Money
	TaxRate     TaxRate
	ServiceID   ServiceID
	PlanCode    PlanCode
	Period      Period
	Proration   *Proration
	From        Date
	Through     Date
}

// newInvoiceLine validates in for an invoice in currency cur and computes its amounts:
// Net = Quantity × UnitPrice, Tax = Net × TaxRate, each rounded half-up to the minor unit and
// each below 10^MaxTotalAmountDigits (*AmountLimitError otherwise).
func newInvoiceLine(in LineInput, cur Currency) (InvoiceLine, error) {
	if err := in.validate(cur); err != nil {
		return InvoiceLine{}, err
	}
	net := in.UnitPrice.Mul(in.Quantity.Decimal())
	tax := net.Mul(in.TaxRate.Decimal())
	if err := firstError(checkTotal("line net", net), checkTotal("line tax", tax)); err != nil {
		return InvoiceLine{}, err
	}
	return InvoiceLine{
		LineID: in.LineID, Description: in.Description, Quantity: in.Quantity,
		UnitPrice: in.UnitPrice, Net: net, TaxRate: in.TaxRate, Tax: tax,
		ServiceID: in.ServiceID, PlanCode: in.PlanCode, Period: in.Period, Proration: in.Proration,
		From: in.From, Through: in.Through,
	}, nil
}

func (in LineInput) validate(cur Currency) error {
	if in.Quantity.IsZero() {
		return invalid("quantity", "", "missing")
	}
	if err := firstError(
		checkID(in.LineID),
		checkText("description", in.Description, MaxDescriptionRunes, true),
		checkAmount("unit price", in.UnitPrice.Abs(), cur, true),
	); err != nil {
		return err
	}
	if err := in.validateCoverage(); err != nil {
		return err
	}
	if in.Proration != nil {
		return in.Proration.validate(cur)
	}
	return nil
}

// validateCoverage requires From and Through together, in order, inside Period when it is set.
func (in LineInput) validateCoverage() error {
	switch {
	case in.From.IsZero() && in.Through.IsZero():
		return nil
	case in.From.IsZero() || in.Through.IsZero():
		return invalid("line dates", in.From.String()+".."+in.Through.String(), "want both from and through, or neither")
	case in.Through.Before(in.From):
		return invalid("line dates", in.From.String()+".."+in.Through.String(), "through is before from")
	case !in.Period.IsZero() && (!in.Period.Contains(in.From) || !in.Period.Contains(in.Through)):
		return invalid("line dates", in.From.String()+".."+in.Through.String(), "not inside the period "+in.Period.String())
	}
	return nil
}

// validate checks that the proration describes part of one month in currency cur.
func (p Proration) validate(cur Currency) error {
	if p.DaysInPeriod < 28 || p.DaysInPeriod > 31 || p.DaysBilled < 1 || p.DaysBilled > p.DaysInPeriod {
		return invalid("proration", fmt.Sprintf("%d/%d", p.DaysBilled, p.DaysInPeriod), "want 1 <= days billed <= days in period (28-31)")
	}
	return checkAmount("proration full price", p.FullPrice, cur, true)
}

// consistent reports whether l is in currency cur and its Net and Tax are what its
// quantity, unit price and tax rate give.
func (l InvoiceLine) consistent(cur Currency) bool {
	net := l.UnitPrice.Mul(l.Quantity.Decimal())
	return l.UnitPrice.Currency() == cur && net.Equal(l.Net) && net.Mul(l.TaxRate.Decimal()).Equal(l.Tax)
}

// newInvoiceLines builds lines from inputs, refusing more than MaxInvoiceLines and duplicate
// line ids.
func newInvoiceLines(invoice InvoiceID, inputs []LineInput, cur Currency) ([]InvoiceLine, error) {
	if len(inputs) > MaxInvoiceLines {
		return nil, &TooManyLinesError{Invoice: invoice, Limit: MaxInvoiceLines}
	}
	lines := make([]InvoiceLine, 0, len(inputs))
	seen := make(map[LineID]bool, len(inputs))
	for _, in := range inputs {
		line, err := newInvoiceLine(in, cur)
		if err != nil {
			return nil, err
		}
		if seen[line.LineID] {
			return nil, &AlreadyExistsError{Entity: "invoice line", ID: line.LineID.String()}
		}
		seen[line.LineID] = true
		lines = append(lines, line)
	}
	return lines, nil
}

// invoiceTotals sums the rounded lines: net, tax and total = net + tax.
func invoiceTotals(lines []InvoiceLine, cur Currency) (net, tax, total Money, err error) {
	net, tax = Zero(cur), Zero(cur)
	for _, l := range lines {
		if net, err = net.Add(l.Net); err != nil {
			return
		}
		if tax, err = tax.Add(l.Tax); err != nil {
			return
		}
	}
	total, err = net.Add(tax)
	return
}
