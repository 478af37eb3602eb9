package domainsim

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
)

// Parts of the balance a payment pays: Money.Mul rounds the product to the minor unit.
var (
	paysAll  = decimal.NewFromInt(1)
	paysHalf = decimal.New(5, -1)
)

// overpaymentCents is what an overpaying customer pays on top (5.00, see money).
const overpaymentCents = 500

var paymentMethods = []domain.PaymentMethod{domain.PaymentMethodCard, domain.PaymentMethodDirectDebit,
	domain.PaymentMethodBankTransfer, domain.PaymentMethodMobileMoney, domain.PaymentMethodCash}

// planPayments schedules, by the customer's habit, the payments of the invoice issued on
// issued (due DueDays later).
func (l *lane) planPayments(issued domain.Date) {
	on := func(from, spread, hour int, part decimal.Decimal, kind string) {
		l.later(issued.AddDays(from+l.r.IntN(spread)), func(d domain.Date) error { return l.pay(d, hour, part, kind) })
	}
	switch l.payer {
	case payerOnTime:
		on(1, 10, 10, paysAll, "")
	case payerLate:
		on(15, 12, 14, paysAll, ActLatePayments)
	case payerPartial:
		on(1, 8, 10, paysHalf, ActPartialPayments)
		on(17, 9, 15, paysAll, ActLatePayments)
	case payerMissing:
		if l.skips() {
			l.rec.stats.did(ActMissedPayments)
			return
		}
		on(20, 8, 16, paysAll, ActLatePayments)
	}
}

// skips reports whether a missing payer pays nothing this time: always in the first two
// months of a customer with the skip role, else three times in five.
func (l *lane) skips() bool {
	if l.role == roleSkip {
		return l.monthOfLife() < 2
	}
	return l.r.IntN(5) < 3
}

// pay records a payment of part of the balance at hour of day d (kind names the activity it
// counts as, if any). A few customers without a role, and the refund role, pay 5.00 too much;
// half of them (every refund role) have it refunded a few days later. Dunning then resumes what the payment cleared, and a
// leaving customer may be deactivated.
func (l *lane) pay(d domain.Date, hour int, part decimal.Decimal, kind string) error {
	balance, err := l.account.state.Balance()
	if err != nil || !balance.IsPositive() {
		return err
	}
	amount := balance.Mul(part)
	overpay := l.role == roleRefund && l.monthOfLife() == 1 || l.role == roleNone && l.r.IntN(100) < 3
	if overpay {
		if amount, err = amount.Add(money(overpaymentCents, l.t.currency)); err != nil {
			return err
		}
	}
	at := l.at(d, hour)
	if l.role == roleLate && l.monthOfLife() == 1 && !l.mistyped {
		l.mistyped = true
		return l.payMistyped(d, at, amount, kind)
	}
	l.seq++
	cmd := domain.RecordPayment{PaymentID: newID(l.r, at, domain.NewPaymentID), Amount: amount,
		Method: paymentMethods[l.r.IntN(len(paymentMethods))], ExternalReference: fmt.Sprintf("PSP-%06d-%04d", l.index, l.seq),
		ReceivedAt: at.Add(-time.Duration(1+l.r.IntN(120)) * time.Minute)}
	evs, err := l.onAccount(cmd, ActorPortal, at)
	if err != nil {
		return err
	}
	l.rec.stats.did(ActPayments)
	if kind != "" {
		l.rec.stats.did(kind)
	}
	if overpay {
		l.rec.stats.did(ActOverpayments)
		if l.role == roleRefund || l.r.IntN(2) == 0 {
			l.later(d.AddDays(2+l.r.IntN(4)), l.refund(recordedPayment(evs)))
		}
	}
	if err := l.dun(d, hour); err != nil {
		return err
	}
	return l.maybeLeave(d)
}

// refund pays the customer's credit back from payment, up to what the payment has left.
func (l *lane) refund(payment domain.PaymentID) action {
	return func(d domain.Date) error {
		p, ok := l.account.state.Payment(payment)
		amount := l.account.state.Credit
		if !ok || !amount.IsPositive() {
			return nil
		}
		if c, err := amount.Cmp(p.Refundable); err != nil || c > 0 {
			amount = p.Refundable
		}
		if !amount.IsPositive() {
			return nil
		}
		cmd := domain.RefundPayment{PaymentID: payment, Amount: amount, Reason: "overpayment returned"}
		if _, err := l.onAccount(cmd, ActorPortal, l.at(d, 13)); err != nil {
			return err
		}
		l.rec.stats.did(ActRefunds)
		return nil
	}
}

// recordedPayment returns the payment a PaymentRecorded among evs recorded.
func recordedPayment(evs []domain.Event) domain.PaymentID {
	for _, e := range evs {
		if p, ok := e.(domain.PaymentRecorded); ok {
			return p.PaymentID
		}
	}
	return domain.PaymentID{}
}
