package domainsim

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/dotmac/ledger/domain"
)

// Values every simulation uses.
var (
	quantityTwo = mustParse(domain.ParseQuantity("2"))
	// standardRate is the tax rate of one-off invoice lines.
	standardRate = mustParse(domain.ParseTaxRate("0.2"))
)

func mustParse[T any](v T, err error) T {
	if err != nil {
		panic("invariant: a literal of the simulation does not parse: " + err.Error())
	}
	return v
}

// join registers the customer on day d, provisions and activates one to three services, bills
// an installation for some (every customer with a role), and plans the rest of the month.
func (l *lane) join(d domain.Date) error {
	at := l.at(d, 9)
	id := newID(l.r, at, domain.NewCustomerID)
	l.account.id = domain.CustomerStream(l.t.id, id)
	n := l.index
	contact := domain.Contact{Name: fmt.Sprintf("Customer %05d", n), Email: fmt.Sprintf("customer%05d@%s.example.net", n, l.t.id),
		Phone: fmt.Sprintf("+1555%07d", n%10_000_000), BillingAddress: fmt.Sprintf("%d Fiber Way, Springfield", 1+n%9000)}
	if _, err := l.onAccount(domain.RegisterCustomer{CustomerID: id, Contact: contact, Currency: l.t.currency}, ActorPortal, at); err != nil {
		return err
	}
	l.rec.stats.did(ActCustomers)
	if l.role != roleOpening {
		if err := l.openingBalance(d, false, false); err != nil {
			return err
		}
	}
	for i := range 1 + l.r.IntN(3) {
		if err := l.provision(d, l.pickPlan(i)); err != nil {
			return err
		}
	}
	if l.role != roleNone || l.r.IntN(2) == 0 {
		if _, err := l.oneOff(d, "Installation", "Wi-Fi router", 1); err != nil {
			return err
		}
		if l.role == roleOpening { // entered after the installation was billed: the credit settles it
			if err := l.openingBalance(d, true, true); err != nil {
				return err
			}
		}
		l.planPayments(d)
	}
	l.planMonth(d)
	return nil
}

// pickPlan chooses the plan of the customer's i-th service: internet first (Fiber 100 most
// often), then mostly a phone line.
func (l *lane) pickPlan(i int) domain.PlanState {
	if i > 0 && l.r.IntN(100) < 70 {
		phone := l.t.onSale(false)
		return phone[l.r.IntN(len(phone))]
	}
	internet := l.t.onSale(true)
	if l.r.IntN(100) < 50 {
		return internet[0] // fiber_100, never retired
	}
	return internet[l.r.IntN(len(internet))]
}

// provision subscribes the customer to plan from day d and activates the service from then.
func (l *lane) provision(d domain.Date, plan domain.PlanState) error {
	return l.provisionFrom(d, d, plan)
}

// provisionFrom enters on day d a service that started on start (the same day, or earlier:
// the field team reported it late) and activates it from start.
func (l *lane) provisionFrom(d, start domain.Date, plan domain.PlanState) error {
	at := l.at(d, 10)
	id := newID(l.r, at, domain.NewServiceID)
	s := &stream[domain.ServiceState]{id: domain.ServiceStream(l.t.id, id)}
	cmd := domain.ProvisionService{ServiceID: id, Customer: l.account.state.Customer, Plan: plan, StartDate: start,
		InstallAddress: l.account.state.Customer.Contact.BillingAddress}
	if isFiber(plan.Code) {
		cmd.ONTSerial = fmt.Sprintf("ONT-%08X", l.r.Uint32())
	}
	if l.r.IntN(100) < 10 {
		cmd.StaticIP = netip.AddrFrom4([4]byte{100, 64, byte(l.index >> 8), byte(l.index)}) //nolint:gosec // wraps on purpose
	}
	if err := l.onService(s, cmd, ActorPortal, at); err != nil {
		return err
	}
	l.services = append(l.services, s)
	if err := l.onService(s, domain.ActivateService{On: start}, ActorPortal, l.at(d, 11)); err != nil {
		return err
	}
	l.rec.stats.did(ActServices)
	return nil
}

// oneOff bills a one-off: a draft with one line (first, 49.00), a second line added to it
// (qty × then, 29.00 or 3.50 each), then issued, due in DueDays. It returns the invoice.
func (l *lane) oneOff(d domain.Date, first, then string, qty int) (domain.InvoiceID, error) {
	at := l.at(d, 12)
	cur := l.t.currency
	line := domain.LineInput{LineID: newID(l.r, at, domain.NewLineID), Description: first, Quantity: domain.QuantityOne(),
		UnitPrice: money(4900, cur), TaxRate: standardRate}
	evs, err := l.onAccount(domain.CreateInvoice{InvoiceID: newID(l.r, at, domain.NewInvoiceID), Lines: []domain.LineInput{line}}, ActorPortal, at)
	if err != nil {
		return domain.InvoiceID{}, err
	}
	id := createdInvoice(evs)
	line = domain.LineInput{LineID: newID(l.r, at, domain.NewLineID), Description: then, Quantity: domain.QuantityOne(),
		UnitPrice: money(2900, cur), TaxRate: standardRate}
	if qty == 2 {
		line.Quantity, line.UnitPrice = quantityTwo, money(350, cur)
	}
	if _, err := l.onAccount(domain.AddInvoiceLine{InvoiceID: id, Line: line}, ActorPortal, l.at(d, 12)); err != nil {
		return id, err
	}
	issue := domain.IssueInvoice{InvoiceID: id, Number: l.number("X"), DueDate: d.AddDays(DueDays)}
	if _, err := l.onAccount(issue, ActorPortal, l.at(d, 12)); err != nil {
		return id, err
	}
	l.rec.stats.did(ActOneOffInvoices)
	return id, nil
}

// createdInvoice returns the invoice an InvoiceCreated among evs created.
func createdInvoice(evs []domain.Event) domain.InvoiceID {
	for _, e := range evs {
		if c, ok := e.(domain.InvoiceCreated); ok {
			return c.InvoiceID
		}
	}
	return domain.InvoiceID{}
}

// isFiber reports whether a plan needs an ONT: the fiber plans.
func isFiber(code domain.PlanCode) bool {
	return strings.HasPrefix(code.String(), "fiber_")
}

// isInternet reports whether code is an internet plan of the catalog.
func isInternet(code domain.PlanCode) bool {
	for _, p := range catalog {
		if p.code == code.String() {
			return p.internet
		}
	}
	return false
}
