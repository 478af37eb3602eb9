package domain

import (
	"fmt"
	"strings"
	"unicode"
)

// MaxStreamIDBytes is the longest stream id the event store accepts; every id built here is
// well below it.
const MaxStreamIDBytes = 200

// StreamKind names what a stream holds: a customer's account, a service, a plan, or a billing
// run. The zero StreamKind is invalid.
type StreamKind struct {
	s string
}

// The stream kinds. The account stream of a customer is named "customer".
var (
	StreamCustomer   = StreamKind{"customer"}
	StreamService    = StreamKind{"service"}
	StreamPlan       = StreamKind{"plan"}
	StreamBillingRun = StreamKind{"billingrun"}
	StreamReceipt    = StreamKind{"receipt"}
	// StreamProviderPayment holds the claim of a provider payment (ProviderPaymentClaimed).
	StreamProviderPayment = StreamKind{"providerpayment"}
)

// String returns the kind as it appears in stream ids.
func (k StreamKind) String() string { return k.s }

// CustomerStream is the id of a customer's account stream, which holds the customer's
// profile, invoices, payments and credit notes: "t-<tenant>/customer-<uuid>".
func CustomerStream(t TenantID, id CustomerID) string {
	return streamID(t, StreamCustomer, id.String())
}

// ServiceStream is the id of a service's stream: "t-<tenant>/service-<uuid>".
func ServiceStream(t TenantID, id ServiceID) string {
	return streamID(t, StreamService, id.String())
}

// PlanStream is the id of a plan's stream: "t-<tenant>/plan-fiber_100".
func PlanStream(t TenantID, code PlanCode) string { return streamID(t, StreamPlan, code.String()) }

// ReceiptStream is the id of an unallocated receipt's stream: "t-<tenant>/receipt-<uuid>".
func ReceiptStream(t TenantID, id ReceiptID) string { return streamID(t, StreamReceipt, id.String()) }

// ProviderPaymentStream is the id of a provider payment's claim stream, keyed by the id of the
// receipt the payment would be: "t-<tenant>/providerpayment-<uuid>".
func ProviderPaymentStream(t TenantID, id ReceiptID) string {
	return streamID(t, StreamProviderPayment, id.String())
}

// BillingRunStream is the id of the billing run of a period: "t-<tenant>/billingrun-2026-01".
func BillingRunStream(t TenantID, p Period) string {
	return streamID(t, StreamBillingRun, p.String())
}

func streamID(t TenantID, k StreamKind, key string) string {
	return "t-" + t.String() + "/" + k.s + "-" + key
}

// ParseStream splits a stream id built by this package into its tenant, kind and key (the
// customer or service UUID, the plan code, or the period), validating each part. Anything
// else (a foreign stream, an invalid key, whitespace, a leading '$', more than
// MaxStreamIDBytes) is an *InvalidValueError.
func ParseStream(id string) (TenantID, StreamKind, string, error) {
	if err := checkStreamID(id); err != nil {
		return TenantID{}, StreamKind{}, "", err
	}
	rest, ok := strings.CutPrefix(id, "t-")
	tenantPart, local, ok2 := strings.Cut(rest, "/")
	kindPart, key, ok3 := strings.Cut(local, "-")
	if !ok || !ok2 || !ok3 {
		return TenantID{}, StreamKind{}, "", invalid("stream id", id, "want t-<tenant>/<kind>-<key>")
	}
	tenant, err := ParseTenantID(tenantPart)
	if err != nil {
		return TenantID{}, StreamKind{}, "", err
	}
	kind, err := parseStreamKey(kindPart, key)
	if err != nil {
		return TenantID{}, StreamKind{}, "", err
	}
	return tenant, kind, key, nil
}

// parseStreamKey validates key for the stream kind named kindPart.
func parseStreamKey(kindPart, key string) (StreamKind, error) {
	var err error
	switch kindPart {
	case StreamCustomer.s:
		_, err = ParseCustomerID(key)
	case StreamService.s:
		_, err = ParseServiceID(key)
	case StreamPlan.s:
		_, err = ParsePlanCode(key)
	case StreamBillingRun.s:
		_, err = ParsePeriod(key)
	case StreamReceipt.s, StreamProviderPayment.s:
		_, err = ParseReceiptID(key)
	default:
		return StreamKind{}, invalid("stream kind", kindPart, "want customer, service, plan, billingrun, receipt or providerpayment")
	}
	return StreamKind{kindPart}, err
}

// checkStreamID applies the event store's rules for any stream id.
func checkStreamID(id string) error {
	switch {
	case id == "" || len(id) > MaxStreamIDBytes:
		return invalid("stream id", id, fmt.Sprintf("must be 1 to %d bytes", MaxStreamIDBytes))
	case id[0] == '$':
		return invalid("stream id", id, "must not start with '$'")
	case strings.IndexFunc(id, unicode.IsSpace) >= 0:
		return invalid("stream id", id, "must not contain whitespace")
	}
	return nil
}
