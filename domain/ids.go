package domain

import (
	"regexp"

	"github.com/google/uuid"
)

// ID is a typed identifier: a UUIDv7, so ids sort by creation time. K only names the kind of
// entity, so a CustomerID cannot be passed where an InvoiceID is expected. IDs are generated
// by the command side (uuid.NewV7) and passed in; the domain never generates them. The zero
// ID is invalid and encodes as JSON null.
type ID[K idKind] struct {
	u uuid.UUID
}

type idKind interface{ kindName() string }

type (
	customerKind   struct{}
	serviceKind    struct{}
	invoiceKind    struct{}
	paymentKind    struct{}
	creditNoteKind struct{}
	lineKind       struct{}
	billingRunKind struct{}
	receiptKind    struct{}
)

func (customerKind) kindName() string   { return "customer" }
func (serviceKind) kindName() string    { return "service" }
func (invoiceKind) kindName() string    { return "invoice" }
func (paymentKind) kindName() string    { return "payment" }
func (creditNoteKind) kindName() string { return "credit note" }
func (lineKind) kindName() string       { return "invoice line" }
func (billingRunKind) kindName() string { return "billing run" }
func (receiptKind) kindName() string    { return "receipt" }

// The typed ids.
type (
	CustomerID   = ID[customerKind]
	ServiceID    = ID[serviceKind]
	InvoiceID    = ID[invoiceKind]
	PaymentID    = ID[paymentKind]
	CreditNoteID = ID[creditNoteKind]
	LineID       = ID[lineKind]
	BillingRunID = ID[billingRunKind]
	ReceiptID    = ID[receiptKind]
)

// parseID accepts only the canonical lower-case 36-character form of a version 7, RFC 9562
// variant UUID, so every accepted id prints back exactly as it was given.
func parseID[K idKind](s string) (ID[K], error) {
	var k K
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return ID[K]{}, invalid(k.kindName()+" id", s, "not a canonical lower-case UUID")
	}
	return idFromUUID[K](u)
}

func idFromUUID[K idKind](u uuid.UUID) (ID[K], error) {
	var k K
	if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		return ID[K]{}, invalid(k.kindName()+" id", u.String(), "not a UUIDv7")
	}
	return ID[K]{u: u}, nil
}

// ParseCustomerID parses a canonical UUIDv7 string; anything else is an *InvalidValueError.
func ParseCustomerID(s string) (CustomerID, error) { return parseID[customerKind](s) }

// ParseServiceID parses a canonical UUIDv7 string; anything else is an *InvalidValueError.
func ParseServiceID(s string) (ServiceID, error) { return parseID[serviceKind](s) }

// ParseInvoiceID parses a canonical UUIDv7 string; anything else is an *InvalidValueError.
func ParseInvoiceID(s string) (InvoiceID, error) { return parseID[invoiceKind](s) }

// ParsePaymentID parses a canonical UUIDv7 string; anything else is an *InvalidValueError.
func ParsePaymentID(s string) (PaymentID, error) { return parseID[paymentKind](s) }

// ParseCreditNoteID parses a canonical UUIDv7 string; anything else is an *InvalidValueError.
func ParseCreditNoteID(s string) (CreditNoteID, error) { return parseID[creditNoteKind](s) }

// ParseLineID parses a canonical UUIDv7 string; anything else is an *InvalidValueError.
func ParseLineID(s string) (LineID, error) { return parseID[lineKind](s) }

// ParseBillingRunID parses a canonical UUIDv7 string; anything else is an *InvalidValueError.
func ParseBillingRunID(s string) (BillingRunID, error) { return parseID[billingRunKind](s) }

// ParseReceiptID parses a canonical UUIDv7 string; anything else is an *InvalidValueError.
func ParseReceiptID(s string) (ReceiptID, error) { return parseID[receiptKind](s) }

// NewCustomerID wraps a UUIDv7 (from uuid.NewV7); other versions are an *InvalidValueError.
func NewCustomerID(u uuid.UUID) (CustomerID, error) { return idFromUUID[customerKind](u) }

// NewServiceID wraps a UUIDv7 (from uuid.NewV7); other versions are an *InvalidValueError.
func NewServiceID(u uuid.UUID) (ServiceID, error) { return idFromUUID[serviceKind](u) }

// NewInvoiceID wraps a UUIDv7 (from uuid.NewV7); other versions are an *InvalidValueError.
func NewInvoiceID(u uuid.UUID) (InvoiceID, error) { return idFromUUID[invoiceKind](u) }

// NewPaymentID wraps a UUIDv7 (from uuid.NewV7); other versions are an *InvalidValueError.
func NewPaymentID(u uuid.UUID) (PaymentID, error) { return idFromUUID[paymentKind](u) }

// NewCreditNoteID wraps a UUIDv7 (from uuid.NewV7); other versions are an *InvalidValueError.
func NewCreditNoteID(u uuid.UUID) (CreditNoteID, error) { return idFromUUID[creditNoteKind](u) }

// NewLineID wraps a UUIDv7 (from uuid.NewV7); other versions are an *InvalidValueError.
func NewLineID(u uuid.UUID) (LineID, error) { return idFromUUID[lineKind](u) }

// NewBillingRunID wraps a UUIDv7 (from uuid.NewV7); other versions are an *InvalidValueError.
func NewBillingRunID(u uuid.UUID) (BillingRunID, error) { return idFromUUID[billingRunKind](u) }

// NewReceiptID wraps a UUIDv7 (from uuid.NewV7); other versions are an *InvalidValueError.
func NewReceiptID(u uuid.UUID) (ReceiptID, error) { return idFromUUID[receiptKind](u) }

// IsZero reports whether id is the zero (invalid) id.
func (id ID[K]) IsZero() bool { return id.u == uuid.Nil }

// UUID returns the underlying UUID.
func (id ID[K]) UUID() uuid.UUID { return id.u }

// String returns the canonical lower-case UUID.
func (id ID[K]) String() string { return id.u.String() }

// Compare orders ids by their bytes, which for UUIDv7 is creation time first.
func (id ID[K]) Compare(o ID[K]) int {
	for i := range id.u {
		if id.u[i] != o.u[i] {
			if id.u[i] < o.u[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// MarshalJSON encodes the UUID as a string, and the zero id as null.
func (id ID[K]) MarshalJSON() ([]byte, error) {
	if id.IsZero() {
		return []byte("null"), nil
	}
	b := make([]byte, 38)
	b[0], b[37] = '"', '"'
	encodeUUID(b[1:37], id.u)
	return b, nil
}

// encodeUUID writes u's canonical lower-case form (36 bytes) into dst, as u.String() does,
// without the string.
func encodeUUID(dst []byte, u uuid.UUID) {
	const hexDigits = "0123456789abcdef"
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = hexDigits[c>>4], hexDigits[c&0x0f]
		j += 2
	}
}

// UnmarshalJSON decodes what MarshalJSON writes; null gives the zero id.
func (id *ID[K]) UnmarshalJSON(data []byte) error {
	return unmarshalNullable(data, id, parseID[K])
}

var (
	tenantPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	planCodePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,63}$`)
)

// TenantID names a tenant (an ISP using the platform): 1 to 63 characters of [a-z0-9_-],
// starting with a letter or digit. The zero TenantID is invalid.
type TenantID struct {
	s string
}

// ParseTenantID validates s; anything else is an *InvalidValueError.
func ParseTenantID(s string) (TenantID, error) {
	if !tenantPattern.MatchString(s) {
		return TenantID{}, invalid("tenant id", s, "want 1-63 characters of a-z 0-9 _ -, starting with a letter or digit")
	}
	return TenantID{s: s}, nil
}

// String returns the tenant id.
func (t TenantID) String() string { return t.s }

// IsZero reports whether t is the zero (invalid) TenantID.
func (t TenantID) IsZero() bool { return t.s == "" }

// MarshalJSON encodes the tenant as a string, and the zero TenantID as null.
func (t TenantID) MarshalJSON() ([]byte, error) { return marshalNullable(t.s, t.IsZero()) }

// UnmarshalJSON decodes what MarshalJSON writes; null gives the zero TenantID.
func (t *TenantID) UnmarshalJSON(data []byte) error {
	return unmarshalNullable(data, t, ParseTenantID)
}

// PlanCode names a plan in a tenant's catalog, such as "fiber_100": 1 to 64 characters of
// [a-z0-9_], starting with a letter or digit. The zero PlanCode is invalid.
type PlanCode struct {
	s string
}

// ParsePlanCode validates s; anything else is an *InvalidValueError.
func ParsePlanCode(s string) (PlanCode, error) {
	if !planCodePattern.MatchString(s) {
		return PlanCode{}, invalid("plan code", s, "want 1-64 characters of a-z 0-9 _, starting with a letter or digit")
	}
	return PlanCode{s: s}, nil
}

// String returns the code.
func (p PlanCode) String() string { return p.s }

// IsZero reports whether p is the zero (invalid) PlanCode.
func (p PlanCode) IsZero() bool { return p.s == "" }

// MarshalJSON encodes the code as a string, and the zero PlanCode as null.
func (p PlanCode) MarshalJSON() ([]byte, error) { return marshalNullable(p.s, p.IsZero()) }

// UnmarshalJSON decodes what MarshalJSON writes; null gives the zero PlanCode.
func (p *PlanCode) UnmarshalJSON(data []byte) error {
	return unmarshalNullable(data, p, ParsePlanCode)
}
