package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dotmac/ledger/domain"
)

func TestStreamNames(t *testing.T) {
	acme := tenant("acme")
	cases := []struct {
		id   string
		want string
		kind domain.StreamKind
		key  string
	}{
		{domain.CustomerStream(acme, customerID(1)), "t-acme/customer-" + uuidN(101), domain.StreamCustomer, uuidN(101)},
		{domain.ServiceStream(acme, serviceID(1)), "t-acme/service-" + uuidN(601), domain.StreamService, uuidN(601)},
		{domain.PlanStream(acme, planCode("fiber_100")), "t-acme/plan-fiber_100", domain.StreamPlan, "fiber_100"},
		{domain.BillingRunStream(acme, period("2026-01")), "t-acme/billingrun-2026-01", domain.StreamBillingRun, "2026-01"},
	}
	for _, tc := range cases {
		if tc.id != tc.want {
			t.Errorf("got %q, want %q", tc.id, tc.want)
		}
		tn, kind, key, err := domain.ParseStream(tc.id)
		if err != nil || tn != acme || kind != tc.kind || key != tc.key {
			t.Errorf("ParseStream(%q) = %v %v %q %v", tc.id, tn, kind, key, err)
		}
	}
	if domain.StreamBillingRun.String() != "billingrun" {
		t.Error("kind name")
	}
}

// A tenant may contain '-' and the stream still parses: the tenant ends at the first '/'.
func TestStreamTenantWithDash(t *testing.T) {
	id := domain.PlanStream(tenant("isp-north-1"), planCode("fiber_100"))
	tn, _, key, err := domain.ParseStream(id)
	if err != nil || tn.String() != "isp-north-1" || key != "fiber_100" {
		t.Fatalf("got %v %q %v", tn, key, err)
	}
	longest := domain.PlanStream(tenant(strings.Repeat("t", 63)), planCode(strings.Repeat("p", 64)))
	if len(longest) > domain.MaxStreamIDBytes {
		t.Fatalf("longest stream id is %d bytes", len(longest))
	}
}

func TestParseStreamRejects(t *testing.T) {
	bad := []string{
		"", "$all", "t-acme/customer-" + uuidN(1) + " ", "t-acme/customer-nope", "t-acme/plan-Fiber",
		"t-acme/billingrun-2026-13", "t-acme/widget-1", "acme/customer-" + uuidN(1), "t-acme",
		"t-Acme/plan-x", "t-acme/plan", strings.Repeat("x", 201),
	}
	for _, id := range bad {
		if _, _, _, err := domain.ParseStream(id); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ParseStream(%q) accepted", id)
		}
	}
}
