package commands_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/eventstore"
)

// keyed returns the fixture's Meta as a request with idempotency key key would run it: a
// command id of its own, and the key recorded with its events under that id.
func (f *batchFixture) keyed(key string) commands.Meta {
	m := f.meta
	m.CommandID = uuid.Must(uuid.NewV7())
	m.Key = &eventstore.AppendKey{Scope: m.Tenant.String(), Key: key, Hash: [32]byte{1}, CommandID: m.CommandID}
	return m
}

// payments returns the amounts of the customer's payments.
func (f *batchFixture) payments() []string {
	f.t.Helper()
	account, _, err := f.h.Account(context.Background(), f.meta.Tenant, f.customer)
	require.NoError(f.t, err)
	var out []string
	for p := range account.Payments() {
		out = append(out, p.Amount.Amount().StringFixed(2))
	}
	return out
}

// TestTheSameKeyTwiceInABatchRunsOnce: two requests with one idempotency key (a retry racing
// its original, each with its own command id) queued for the same append: the first is
// appended, the second is refused with the key's holder, and a payment queued with them
// without the key is appended too. The key's amount is paid once.
func TestTheSameKeyTwiceInABatchRunsOnce(t *testing.T) {
	t.Parallel()
	f := newBatchFixture(t)
	first := f.hold()
	metas := []commands.Meta{f.keyed("k-1"), f.keyed("k-1")}
	type answer struct {
		i   int
		res commands.Result
		err error
	}
	answers := make(chan answer, 2)
	for i := range metas {
		go func() {
			res, err := f.pay("12.00", &metas[i])
			answers <- answer{i, res, err}
		}()
		f.queued(i + 1)
	}
	other := make(chan error, 1)
	go func() { _, err := f.pay("5.00", nil); other <- err }()
	f.queued(3)
	close(f.gate.open)
	require.NoError(t, <-first)
	require.NoError(t, <-other)
	a, b := <-answers, <-answers
	if a.err != nil {
		a, b = b, a
	}
	require.NoError(t, a.err)
	var taken *eventstore.KeyTakenError
	require.ErrorAs(t, b.err, &taken)
	held, ok := taken.Holder(f.meta.Tenant.String(), "k-1")
	require.True(t, ok)
	assert.Equal(t, metas[a.i].CommandID, held.CommandID, "the key is held by the command appended")
	assert.ElementsMatch(t, []string{"1.00", "12.00", "5.00"}, f.payments())
}

// TestAHeldKeyFailsItsCommandAlone: in a batch of payments appended together, the one whose
// key another command recorded before is refused with the holder; the others are decided
// again without it and appended.
func TestAHeldKeyFailsItsCommandAlone(t *testing.T) {
	t.Parallel()
	f := newBatchFixture(t)
	holder := uuid.Must(uuid.NewV7())
	_, err := f.store.Append(context.Background(), "test-key-holder-"+uuid.NewString(), eventstore.NoStream(), eventstore.EventData{
		ID: uuid.New(), Type: "KeyHolder", SchemaVersion: 1, Data: []byte(`{}`),
		Key: &eventstore.AppendKey{Scope: f.meta.Tenant.String(), Key: "k-2", Hash: [32]byte{1}, CommandID: holder}})
	require.NoError(t, err)

	first := f.hold()
	retry, other := f.keyed("k-2"), f.keyed("k-3")
	refused := make(chan error, 1)
	go func() { _, err := f.pay("7.00", &retry); refused <- err }()
	f.queued(1)
	rest := make(chan error, 2)
	go func() { _, err := f.pay("3.00", nil); rest <- err }()
	f.queued(2)
	go func() { _, err := f.pay("2.00", &other); rest <- err }()
	f.queued(3)
	close(f.gate.open)
	require.NoError(t, <-first)
	require.NoError(t, <-rest)
	require.NoError(t, <-rest)
	var taken *eventstore.KeyTakenError
	require.ErrorAs(t, <-refused, &taken)
	held, ok := taken.Holder(f.meta.Tenant.String(), "k-2")
	require.True(t, ok)
	assert.Equal(t, holder, held.CommandID)
	assert.ElementsMatch(t, []string{"1.00", "3.00", "2.00"}, f.payments())
	assert.Len(t, f.gate.counts(), 3, "the held append, the batch refused for its key, the batch without it")
}
