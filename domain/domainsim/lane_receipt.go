package domainsim

import (
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
)

// payMistyped pays amount through M-Pesa with an account reference naming nobody: the
// provider's callback claims the payment for unallocated receipts and books it there, and the ISP's staff allocate it to the
// customer a few days later (kind names the activity the payment counts as, if any).
func (l *lane) payMistyped(d domain.Date, at time.Time, amount domain.Money, kind string) error {
	id := newID(l.r, at, domain.NewReceiptID)
	st := &stream[domain.ReceiptState]{id: domain.ReceiptStream(l.t.id, id)}
	l.seq++
	cmd := domain.RecordUnallocatedReceipt{ReceiptID: id, Amount: amount, Method: domain.PaymentMethodMobileMoney,
		ExternalReference: fmt.Sprintf("mpesa:SIM%06d%04d", l.index, l.seq), AccountReference: fmt.Sprintf("ACC %d", l.index),
		Payer: fmt.Sprintf("2547****%03d", l.index%1000), Reason: domain.ReceiptUnknownCustomer,
		ReceivedAt: at.Add(-time.Duration(1+l.r.IntN(30)) * time.Second)}
	claim := &stream[domain.ProviderPaymentState]{id: domain.ProviderPaymentStream(l.t.id, id)}
	cc := domain.ClaimProviderPayment{ReceiptID: id, ExternalReference: cmd.ExternalReference, Amount: amount,
		Booking: domain.BookedToReceipt, Reason: cmd.Reason}
	c := Command{Tenant: l.t.id, At: at, Actor: ActorProvider, Receipt: id, Cmd: cc}
	if _, err := send(&l.rec, claim, c, func(s domain.ProviderPaymentState, now time.Time) ([]domain.Event, error) {
		return domain.DecideProviderPayment(s, cc, now)
	}, domain.ApplyProviderPayment); err != nil {
		return err
	}
	if err := l.onReceipt(st, cmd, ActorProvider, at); err != nil {
		return err
	}
	l.rec.stats.did(ActUnallocatedReceipts)
	l.later(d.AddDays(1+l.r.IntN(3)), func(d domain.Date) error { return l.allocate(st, d, kind) })
	return nil
}

// allocate gives the receipt to the customer, whose account records it as a payment.
func (l *lane) allocate(st *stream[domain.ReceiptState], d domain.Date, kind string) error {
	at := l.at(d, 11)
	payment := newID(l.r, at, domain.NewPaymentID)
	if err := l.onReceipt(st, domain.AllocateReceipt{CustomerID: l.account.state.Customer.ID, PaymentID: payment}, ActorPortal, at); err != nil {
		return err
	}
	r := st.state
	cmd := domain.RecordPayment{PaymentID: r.Payment, Amount: r.Amount, Method: r.Method, ExternalReference: r.ExternalReference,
		ReceivedAt: r.ReceivedAt, Receipt: r.ID}
	if _, err := l.onAccount(cmd, ActorAllocation, at); err != nil {
		return err
	}
	l.rec.stats.did(ActPayments)
	if kind != "" {
		l.rec.stats.did(kind)
	}
	if err := l.dun(d, 11); err != nil {
		return err
	}
	return l.maybeLeave(d)
}

// onReceipt sends a receipt command to st.
func (l *lane) onReceipt(st *stream[domain.ReceiptState], cmd domain.ReceiptCommand, actor Actor, at time.Time) error {
	c := Command{Tenant: l.t.id, At: at, Actor: actor, Customer: l.account.state.Customer.ID, Cmd: cmd}
	if r, ok := cmd.(domain.RecordUnallocatedReceipt); ok {
		c.Receipt, c.Customer = r.ReceiptID, domain.CustomerID{}
	} else {
		c.Receipt = st.state.ID
	}
	_, err := send(&l.rec, st, c, func(r domain.ReceiptState, now time.Time) ([]domain.Event, error) {
		return domain.DecideReceipt(r, cmd, now)
	}, domain.ApplyReceipt)
	return err
}
