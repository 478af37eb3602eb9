package domainsim

import "github.com/dotmac/ledger/domain"

// commandKinds holds one zero value of every command the domain decides: a simulation sends
// each kind (TestCommandKindsAreTheDomains keeps the list complete).
var commandKinds = []any{
	domain.DefinePlan{}, domain.RetirePlan{},
	domain.RegisterCustomer{}, domain.UpdateCustomerContact{}, domain.DeactivateCustomer{},
	domain.ProvisionService{}, domain.ActivateService{}, domain.SuspendService{}, domain.ResumeService{},
	domain.ChangePlan{}, domain.TerminateService{},
	domain.CreateInvoice{}, domain.AddInvoiceLine{}, domain.IssueInvoice{}, domain.VoidInvoice{},
	domain.MarkInvoiceOverdue{}, domain.GenerateRecurringInvoice{},
	domain.RecordPayment{}, domain.RefundPayment{}, domain.IssueCreditNote{}, domain.AdjustBilling{},
	domain.RecordOpeningBalance{},
	domain.StartBillingRun{}, domain.RecordCustomerInvoiced{}, domain.CompleteBillingRun{},
	domain.RecordUnallocatedReceipt{}, domain.AllocateReceipt{}, domain.ClaimProviderPayment{},
	domain.ApplyCustomerCredit{},
}

// repairOnly names the commands that record events only on accounts an earlier version wrote
// (ApplyCustomerCredit: credit beside open invoices), which a simulation never has: Missing
// does not ask for them.
var repairOnly = map[string]bool{kindOf(domain.ApplyCustomerCredit{}): true}

// CommandKinds returns the name of every command the domain decides, as Command.Kind gives it.
func CommandKinds() []string {
	out := make([]string, len(commandKinds))
	for i, c := range commandKinds {
		out[i] = kindOf(c)
	}
	return out
}

// The activities a simulation counts (Stats.Activities), in the order Activities lists them.
const (
	ActPlans                 = "plans"
	ActRetiredPlans          = "retired_plans"
	ActCustomers             = "customers"
	ActContactUpdates        = "contact_updates"
	ActDeactivations         = "deactivations"
	ActServices              = "services"
	ActPlanChanges           = "plan_changes"
	ActRequestedHolds        = "requested_holds"
	ActHoldResumptions       = "hold_resumptions"
	ActTerminations          = "terminations"
	ActBillingRuns           = "billing_runs"
	ActRecurringInvoices     = "recurring_invoices"
	ActOneOffInvoices        = "one_off_invoices"
	ActVoidedInvoices        = "voided_invoices"
	ActPayments              = "payments"
	ActLatePayments          = "late_payments"
	ActPartialPayments       = "partial_payments"
	ActOverpayments          = "overpayments"
	ActMissedPayments        = "missed_payments"
	ActRefunds               = "refunds"
	ActInvoiceCreditNotes    = "invoice_credit_notes"
	ActAccountCreditNotes    = "account_credit_notes"
	ActOverdueMarks          = "overdue_marks"
	ActDunningSuspensions    = "dunning_suspensions"
	ActDunningResumptions    = "dunning_resumptions"
	ActLateChanges           = "late_changes"
	ActSupplementaryInvoices = "supplementary_invoices"
	ActAdjustmentCreditNotes = "adjustment_credit_notes"
	ActOpeningBalances       = "opening_balances"
	ActUnallocatedReceipts   = "unallocated_receipts"
)

// Activities returns every activity name, in the order a summary prints them.
func Activities() []string {
	return []string{
		ActPlans, ActRetiredPlans, ActCustomers, ActContactUpdates, ActDeactivations, ActServices,
		ActPlanChanges, ActRequestedHolds, ActHoldResumptions, ActTerminations, ActBillingRuns,
		ActRecurringInvoices, ActOneOffInvoices, ActVoidedInvoices, ActPayments, ActLatePayments,
		ActPartialPayments, ActOverpayments, ActMissedPayments, ActRefunds, ActInvoiceCreditNotes,
		ActAccountCreditNotes, ActOverdueMarks, ActDunningSuspensions, ActDunningResumptions, ActLateChanges,
		ActSupplementaryInvoices, ActAdjustmentCreditNotes, ActOpeningBalances, ActUnallocatedReceipts,
	}
}

// Stats counts what a simulation recorded: the commands that recorded events, by kind; the
// events, by type; and the activities, by name (see Activities).
type Stats struct {
	Commands   map[string]int `json:"commands"`
	Events     map[string]int `json:"events"`
	Activities map[string]int `json:"activities"`
}

// EventCount returns the number of events recorded.
func (s Stats) EventCount() int { return sum(s.Events) }

// CommandCount returns the number of commands that recorded events.
func (s Stats) CommandCount() int { return sum(s.Commands) }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Missing lists what the simulation never did: every command kind (CommandKinds), event type
// (domain.AllEvents) and activity (Activities) with no count, as "command X", "event X" or
// "activity X". A run of at least ten customers over three months misses nothing.
func (s Stats) Missing() []string {
	var out []string
	for _, k := range CommandKinds() {
		if s.Commands[k] == 0 && !repairOnly[k] {
			out = append(out, "command "+k)
		}
	}
	for _, e := range domain.AllEvents() {
		if s.Events[e.EventType()] == 0 {
			out = append(out, "event "+e.EventType())
		}
	}
	for _, a := range Activities() {
		if s.Activities[a] == 0 {
			out = append(out, "activity "+a)
		}
	}
	return out
}

// count adds a command that recorded evs.
func (s *Stats) count(cmd Command, evs []domain.Event) {
	if len(evs) == 0 {
		return
	}
	s.init()
	s.Commands[cmd.Kind()]++
	for _, e := range evs {
		s.Events[e.EventType()]++
	}
}

// did counts one more of activity a.
func (s *Stats) did(a string) {
	s.init()
	s.Activities[a]++
}

func (s *Stats) init() {
	if s.Commands == nil {
		s.Commands, s.Events, s.Activities = map[string]int{}, map[string]int{}, map[string]int{}
	}
}

// add adds o's counts to s.
func (s *Stats) add(o Stats) {
	s.init()
	for _, pair := range [][2]map[string]int{{s.Commands, o.Commands}, {s.Events, o.Events}, {s.Activities, o.Activities}} {
		for k, n := range pair[1] {
			pair[0][k] += n
		}
	}
}
