package api

import (
	"context"
	"net/http"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/auth"
)

func customerRoutes() []route {
	return []route{
		{op: "registerCustomer", method: http.MethodPost, path: "/v1/customers", permission: auth.CustomersWrite, prepare: prepareRegisterCustomer},
		{op: "updateCustomerContact", method: http.MethodPost, path: "/v1/customers/{customer_id}/contact", permission: auth.CustomersWrite,
			ifMatch: true, prepare: prepareUpdateContact},
		{op: "deactivateCustomer", method: http.MethodPost, path: "/v1/customers/{customer_id}/deactivate", permission: auth.CustomersWrite,
			ifMatch: true, prepare: prepareDeactivateCustomer},
	}
}

// contactJSON is a customer's contact details.
type contactJSON struct {
	Name           value `json:"name"`
	Email          value `json:"email"`
	Phone          value `json:"phone"`
	BillingAddress value `json:"billing_address"`
}

func (c contactJSON) parse(f *fields) domain.Contact {
	return domain.Contact{
		Name: f.str("name", c.Name, true), Email: f.str("email", c.Email, true),
		Phone: f.str("phone", c.Phone, false), BillingAddress: f.str("billing_address", c.BillingAddress, true),
	}
}

type registerCustomerJSON struct {
	contactJSON
	Currency value `json:"currency"`
}

func prepareRegisterCustomer(req *request) (command, error) {
	var in registerCustomerJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	c := commands.RegisterCustomer{Contact: in.parse(&f), Currency: parsed(&f, "currency", in.Currency, true, domain.ParseCurrency)}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.RegisterCustomer(ctx, m, c)
		return reply(res, err, http.StatusCreated, "/v1/customers/"+res.ID, nil)
	}, nil
}

func prepareUpdateContact(req *request) (command, error) {
	var in contactJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	c := commands.UpdateCustomerContact{CustomerID: pathID(&f, req, "customer_id", domain.ParseCustomerID), Contact: in.parse(&f)}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.UpdateCustomerContact(ctx, m, c)
		return reply(res, err, http.StatusOK, "", nil)
	}, nil
}

type reasonJSON struct {
	Reason value `json:"reason"`
}

func prepareDeactivateCustomer(req *request) (command, error) {
	var in reasonJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	c := commands.DeactivateCustomer{CustomerID: pathID(&f, req, "customer_id", domain.ParseCustomerID), Reason: f.str("reason", in.Reason, false)}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.DeactivateCustomer(ctx, m, c)
		return reply(res, err, http.StatusOK, "", nil)
	}, nil
}
