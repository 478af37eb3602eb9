package events

import (
	"reflect"

	"github.com/dotmac/ledger/domain"
)

// InvoiceIssuedHeadType exposes the head's type to the external tests.
func InvoiceIssuedHeadType() reflect.Type { return reflect.TypeFor[invoiceIssuedHead]() }

// PartialTypes exposes the partial payload types DecodeForPostings and DecodeForLedger
// decode, each beside its event.
func PartialTypes() map[reflect.Type]reflect.Type {
	return map[reflect.Type]reflect.Type{
		reflect.TypeFor[invoiceIssuedHead]():      reflect.TypeFor[domain.InvoiceIssued](),
		reflect.TypeFor[invoiceIssuedAmounts]():   reflect.TypeFor[domain.InvoiceIssued](),
		reflect.TypeFor[paymentRecordedAmounts](): reflect.TypeFor[domain.PaymentRecorded](),
	}
}
