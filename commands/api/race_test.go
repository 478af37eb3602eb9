package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// TestPaymentsRacingOnOneInvoice: payments racing on one invoice, through two processes (two
// state caches, so their appends conflict), are all recorded; together they settle exactly
// the invoice and the rest is credit, and the account's journal balances.
func TestPaymentsRacingOnOneInvoice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	customer := e.registerCustomer(tok)
	invoice := e.issuedInvoice(tok, customer, "100.00")
	_, second, reg2 := e.newProcess(e.store)
	processes := []http.Handler{e.handler, second}

	const perProcess = 10
	var wg sync.WaitGroup
	statuses := make(chan int, 2*perProcess)
	for _, h := range processes {
		for range perProcess {
			wg.Go(func() {
				// A command that lost the race maxAttempts times in a row answers 409, to be
				// sent again with the same Idempotency-Key, as a client does.
				c := call{path: "/v1/customers/" + customer + "/payments", token: tok, header: map[string]string{"Idempotency-Key": uuid.NewString()},
					body: map[string]any{"amount": money("10.00", "USD"), "method": "card"}}
				rec := httptest.NewRecorder()
				for range 5 {
					rec = httptest.NewRecorder()
					h.ServeHTTP(rec, e.request(c))
					if rec.Code != http.StatusConflict {
						break
					}
				}
				statuses <- rec.Code
			})
		}
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		require.Equal(t, http.StatusCreated, s)
	}

	account, history := foldAccount(t, e, customer)
	require.Equal(t, 2*perProcess, account.PaymentCount())
	inv := account.Invoices[mustInvoiceID(t, invoice)]
	assert.Equal(t, domain.InvoiceStatusPaid, inv.Status)
	assert.Equal(t, "100.00", inv.Settled.AmountString(), "settled exactly once, never over-allocated")
	assert.Equal(t, "100.00", account.Credit.AmountString(), "the rest is credit")

	var ledger domain.LedgerTotals
	for _, ev := range history {
		entry, ok, err := domain.Postings(ev)
		require.NoError(t, err)
		if ok {
			ledger.Post(entry)
		}
	}
	usd, err := domain.ParseCurrency("USD")
	require.NoError(t, err)
	assert.True(t, ledger.Net(usd).IsZero(), "the journal balances")
	balance, err := account.Balance()
	require.NoError(t, err)
	assert.Equal(t, balance, ledger.CustomerBalance(usd))
	assert.Equal(t, "-100.00", balance.AmountString())
	t.Logf("conflict retries: %v + %v", metricSum(t, e.registry, "dotmac_command_conflict_retries_total", nil),
		metricSum(t, reg2, "dotmac_command_conflict_retries_total", nil))
}

// foldAccount reads a customer's stream and folds it.
func foldAccount(t *testing.T, e *env, customer string) (domain.AccountState, []domain.Event) {
	t.Helper()
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	envs, err := e.store.ReadStream(context.Background(), domain.CustomerStream(tenant, mustCustomerID(t, customer)), 1, eventstore.Forwards, 1000)
	require.NoError(t, err)
	history := make([]domain.Event, len(envs))
	for i := range envs {
		history[i], err = codec.Decode(&envs[i])
		require.NoError(t, err)
	}
	account, err := domain.FoldAccount(history)
	require.NoError(t, err)
	return account, history
}

func mustCustomerID(t *testing.T, s string) domain.CustomerID {
	t.Helper()
	id, err := domain.ParseCustomerID(s)
	require.NoError(t, err)
	return id
}

func mustInvoiceID(t *testing.T, s string) domain.InvoiceID {
	t.Helper()
	id, err := domain.ParseInvoiceID(s)
	require.NoError(t, err)
	return id
}
