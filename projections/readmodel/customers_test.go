package readmodel_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCustomersRows(t *testing.T) {
	t.Parallel()
	pool := build(t, fixture(t), 1000)
	assert.Equal(t, []string{
		"acme|01940000-0000-7000-8000-000000000101|Alice Ng|alice@new.example|+1 555 0101|2 Side St|USD|active|2026-01-01 09:03:00+00|2026-01-02 09:02:00+00|∅|∅",
		"acme|01940000-0000-7000-8000-000000000102|Bob Ode|x@acme.example|+1 555 0100|1 Main St|USD|deactivated|2026-01-02 09:00:00+00|2026-03-11 09:00:00+00|2026-03-11 09:00:00+00|moved",
		"globex|01940000-0000-7000-8000-000000000103|Carol Haddad|carol@globex.example||Manama|BHD|active|2026-01-03 09:01:00+00|2026-01-03 09:01:00+00|∅|∅",
	}, rows(t, pool, `SELECT tenant_id, customer_id, name, email, phone, billing_address, currency, status,
		registered_at, updated_at, deactivated_at, deactivation_reason FROM customers ORDER BY tenant_id, customer_id`))
}
