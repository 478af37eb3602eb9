package api

import (
	"context"
	"net/http"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/auth"
)

func receiptRoutes() []route {
	return []route{
		{op: "allocateReceipt", method: http.MethodPost, path: "/v1/receipts/{receipt_id}/allocations", permission: auth.PaymentsWrite,
			prepare: prepareAllocateReceipt},
	}
}

type allocateReceiptJSON struct {
	CustomerID value `json:"customer_id"`
}

// allocationBody is the answer to an allocation: the customer's payment and how it was
// allocated to the customer's invoices.
type allocationBody struct {
	paymentBody
	ReceiptID  string `json:"receipt_id"`
	CustomerID string `json:"customer_id"`
}

func prepareAllocateReceipt(req *request) (command, error) {
	var in allocateReceiptJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	receipt := pathID(&f, req, "receipt_id", domain.ParseReceiptID)
	customer := parsed(&f, "customer_id", in.CustomerID, true, domain.ParseCustomerID)
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.AllocateReceipt(ctx, m, receipt, customer)
		return reply(res, err, http.StatusCreated, "/v1/customers/"+customer.String()+"/payments/"+res.ID, func(b resultBody) any {
			out := allocationBody{paymentBody: paymentBody{resultBody: b, Allocations: []domain.Allocation{}},
				ReceiptID: receipt.String(), CustomerID: customer.String()}
			if e, ok := eventOf[domain.PaymentRecorded](res); ok {
				out.Amount, out.Allocations, out.Unapplied = e.Amount, e.Allocations, e.Unapplied
			}
			return out
		})
	}, nil
}
