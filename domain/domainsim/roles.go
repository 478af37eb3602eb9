package domainsim

import (
	"math/rand/v2"

	"github.com/dotmac/ledger/domain"
)

// payer is how a customer pays its bills.
type payer int

const (
	payerOnTime  payer = iota // pays in full within ten days
	payerLate                 // pays in full after the due date
	payerPartial              // pays half early and the rest after the due date
	payerMissing              // often pays nothing for a month, then everything late
)

func pickPayer(r *rand.Rand) payer {
	switch n := r.IntN(100); {
	case n < 68:
		return payerOnTime
	case n < 80:
		return payerLate
	case n < 90:
		return payerPartial
	default:
		return payerMissing
	}
}

// role is a rare activity a customer is sure to show, so that even a small simulation shows
// every kind. Role customers join in the first days of the first month; their activity
// comes in their second month (termination: in the last simulated month).
type role int

const (
	roleNone          role = iota
	roleLate               // pays late; updates its contact
	rolePartial            // pays half then the rest; a credit note against its new invoice
	roleSkip               // pays nothing in its first two months: overdue, suspended, resumed
	roleAccountCredit      // a credit note to the account, and a requested hold
	rolePlanChange         // changes plan
	roleRefund             // overpays and has the excess refunded
	roleTerminate          // ends a service in the last month
	roleLeave              // ends every service, settles the last bill, is deactivated
	roleVoid               // is billed a technician visit raised in error, voided the same day
	roleOpening            // moves over from another system with an opening balance
	roleLateUpgrade        // upgrades, reported late, back into the month already billed
	roleLateEnd            // ends a service, reported late, back into the month already billed
	numberOfRoles
)

// roleEvery is how often the roles come round: customers 0 to numberOfRoles-2 of every
// roleEvery have one each; the others act at random.
const roleEvery = 50

func roleOf(index int) role {
	if i := index % roleEvery; i < int(numberOfRoles)-1 {
		return role(i + 1)
	}
	return roleNone
}

// payer returns how a customer with role r pays, p being its random habit.
func (r role) payer(p payer) payer {
	switch r {
	case roleNone:
		return p
	case roleLate:
		return payerLate
	case rolePartial:
		return payerPartial
	case roleSkip:
		return payerMissing
	}
	return payerOnTime
}

// planRole schedules the role's activity of the month starting on first (the month's
// activities go on day). A customer with a role does nothing else at random, which could undo
// its role or make it impossible (customer credit would settle the invoice to void).
func (l *lane) planRole(first, day domain.Date) {
	if l.role == roleTerminate && l.sim.month == l.sim.cfg.months-1 {
		l.later(day, l.terminateOne)
	}
	if l.monthOfLife() != 1 {
		return
	}
	switch l.role {
	case roleLate:
		l.later(day, l.updateContact)
	case rolePartial:
		l.later(first, l.creditNote(true))
	case roleAccountCredit:
		l.later(first, l.creditNote(false))
		l.later(day, l.hold)
	case rolePlanChange:
		l.later(day, l.changePlan)
	case roleLeave:
		l.later(day, l.leave)
	case roleVoid:
		l.later(day, l.visit(true))
	case roleLateUpgrade:
		l.later(first.AddDays(2), func(d domain.Date) error { return l.changePlanFrom(d, 100, true) })
	case roleLateEnd:
		l.later(first.AddDays(2), func(d domain.Date) error {
			if len(l.services) == 0 {
				return nil
			}
			return l.terminateFrom(l.services[0], d, "cancelled, reported late", 100)
		})
	}
}
