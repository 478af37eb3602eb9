package events

import (
	"reflect"

	"github.com/dotmac/ledger/domain"
)

// InvoiceIssuedHeadType exposes the head's type to the external tests.
func InvoiceIssuedHeadType() reflect.Type { return reflect.TypeFor[invoiceIssuedHead]() }

// LedgerDecoderTypes exposes DecodeForLedger's partial types, each beside its event.
func LedgerDecoderTypes() map[reflect.Type]reflect.Type {
	return map[reflect.Type]reflect.Type{
		reflect.TypeFor[invoiceIssuedAmounts]():   reflect.TypeFor[domain.InvoiceIssued](),
		reflect.TypeFor[paymentRecordedAmounts](): reflect.TypeFor[domain.PaymentRecorded](),
	}
}
