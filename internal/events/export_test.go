package events

import "reflect"

// InvoiceIssuedHeadType exposes the head's type to the external tests.
func InvoiceIssuedHeadType() reflect.Type { return reflect.TypeFor[invoiceIssuedHead]() }
