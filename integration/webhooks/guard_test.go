package webhooks_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/integration/webhooks"
)

// fakeDNS resolves the names of the table.
func fakeDNS(ctx context.Context, _, host string) ([]netip.Addr, error) {
	names := map[string][]string{
		"hooks.example.com":    {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"internal.example.com": {"10.0.0.7"},
		"mixed.example.com":    {"93.184.215.14", "192.168.1.10"},
		"rebind.example.com":   {"127.0.0.1"},
		"v6local.example.com":  {"fd12:3456::1"},
	}
	addrs, ok := names[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// The URLs registration accepts and refuses, in production and with loopback allowed.
func TestGuardRefusesPrivateURLs(t *testing.T) {
	t.Parallel()
	prod := webhooks.Guard{LookupNetIP: fakeDNS}
	dev := webhooks.Guard{AllowLoopback: true, LookupNetIP: fakeDNS}
	for _, tc := range []struct {
		url       string
		prod, dev bool // accepted
	}{
		{"https://hooks.example.com/dotmac", true, true},
		{"https://93.184.215.14:8443/hook", true, true},
		{"https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook", true, true},
		{"http://hooks.example.com/dotmac", false, true},
		{"ftp://hooks.example.com/", false, false},
		{"https://127.0.0.1/hook", false, true},
		{"http://127.0.0.1:8080/hook", false, true},
		{"https://[::1]/hook", false, true},
		{"https://localhost/hook", false, false}, // resolves nowhere in the fake DNS
		{"https://rebind.example.com/hook", false, true},
		{"https://10.0.0.1/hook", false, false},
		{"https://172.16.5.4/hook", false, false},
		{"https://192.168.0.1/hook", false, false},
		{"https://internal.example.com/hook", false, false},
		{"https://mixed.example.com/hook", false, false},
		{"https://v6local.example.com/hook", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://[fe80::1]/hook", false, false},
		{"https://[::ffff:10.0.0.1]/hook", false, false},
		{"https://[::ffff:127.0.0.1]/hook", false, true},
		{"https://100.64.0.1/hook", false, false},
		{"https://0.0.0.0/hook", false, false},
		{"https://[::]/hook", false, false},
		{"https://224.0.0.1/hook", false, false},
		{"https://255.255.255.255/hook", false, false},
		{"https://[64:ff9b::a00:1]/hook", false, false},
		{"https://[2002:a00:1::1]/hook", false, false},
		{"https://user:pass@hooks.example.com/hook", false, false},
		{"https://nowhere.example.com/hook", false, false},
		{"/relative/hook", false, false},
		{"https:///no-host", false, false},
	} {
		_, err := prod.CheckURL(context.Background(), tc.url)
		assert.Equal(t, tc.prod, err == nil, "production %s: %v", tc.url, err)
		if err != nil {
			require.ErrorIs(t, err, webhooks.ErrURLRefused)
		}
		_, err = dev.CheckURL(context.Background(), tc.url)
		assert.Equal(t, tc.dev, err == nil, "development %s: %v", tc.url, err)
	}
}

// The dialer's check sees the address dialled, after resolution.
func TestGuardControlChecksTheDialledAddress(t *testing.T) {
	t.Parallel()
	prod := webhooks.Guard{}
	assert.NoError(t, prod.Control("tcp4", "93.184.215.14:443", nil))
	assert.ErrorIs(t, prod.Control("tcp4", "127.0.0.1:443", nil), webhooks.ErrURLRefused)
	assert.ErrorIs(t, prod.Control("tcp4", "10.1.1.1:443", nil), webhooks.ErrURLRefused)
	assert.ErrorIs(t, prod.Control("tcp6", "[fe80::1%eth0]:443", nil), webhooks.ErrURLRefused)
	assert.ErrorIs(t, prod.Control("tcp", "garbage", nil), webhooks.ErrURLRefused)
	assert.NoError(t, webhooks.Guard{AllowLoopback: true}.Control("tcp4", "127.0.0.1:443", nil))
}
