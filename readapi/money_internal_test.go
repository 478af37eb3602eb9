package readapi

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dotmac/ledger/domain"
)

// The API formats amounts with the minor units of every currency the domain knows (it does
// not import the domain at run time).
func TestMinorUnitsMatchTheDomain(t *testing.T) {
	t.Parallel()
	for _, code := range domain.Currencies() {
		c, err := domain.ParseCurrency(code)
		assert.NoError(t, err)
		assert.Equal(t, c.MinorUnits(), places(code), code)
	}
}

func TestFixed(t *testing.T) {
	t.Parallel()
	for in, want := range map[[2]string]string{
		{"0", "USD"}: "0.00", {"79.99", "USD"}: "79.99", {"79.9", "USD"}: "79.90", {"0", "JPY"}: "0",
		{"1000", "JPY"}: "1000", {"12.345", "BHD"}: "12.345", {"-0.5", "BHD"}: "-0.500", {"-14.00", "USD"}: "-14.00",
	} {
		assert.Equal(t, want, money(in[0], in[1]).Amount, in)
	}
}
