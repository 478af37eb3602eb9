package api

import (
	"context"
	"net/http"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/auth"
)

func planRoutes() []route {
	return []route{
		{op: "definePlan", method: http.MethodPost, path: "/v1/plans", permission: auth.PlansWrite,
			aliases: map[string]string{"plan name": "name", "plan code": "code"}, prepare: prepareDefinePlan},
		{op: "retirePlan", method: http.MethodPost, path: "/v1/plans/{plan_code}/retire", permission: auth.PlansWrite,
			ifMatch: true, prepare: prepareRetirePlan},
	}
}

type definePlanJSON struct {
	Code               value `json:"code"`
	Name               value `json:"name"`
	MonthlyPrice       value `json:"monthly_price"`
	TaxClass           value `json:"tax_class"`
	TaxRate            value `json:"tax_rate"`
	BillWhileSuspended value `json:"bill_while_suspended"`
}

func prepareDefinePlan(req *request) (command, error) {
	var in definePlanJSON
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	c := commands.DefinePlan{
		Code: parsed(&f, "code", in.Code, true, domain.ParsePlanCode), Name: f.str("name", in.Name, true),
		MonthlyPrice: f.money("monthly_price", in.MonthlyPrice, true, nonNegative), TaxClass: f.str("tax_class", in.TaxClass, true),
		TaxRate: parsed(&f, "tax_rate", in.TaxRate, true, domain.ParseTaxRate), BillWhileSuspended: f.boolean("bill_while_suspended", in.BillWhileSuspended),
	}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.DefinePlan(ctx, m, c)
		return reply(res, err, http.StatusCreated, "/v1/plans/"+res.ID, nil)
	}, nil
}

func prepareRetirePlan(req *request) (command, error) {
	var in struct{}
	if err := decode(req.body, &in); err != nil {
		return nil, err
	}
	var f fields
	c := commands.RetirePlan{Code: pathID(&f, req, "plan_code", domain.ParsePlanCode)}
	if err := f.problem(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error) {
		res, err := h.RetirePlan(ctx, m, c)
		return reply(res, err, http.StatusOK, "", nil)
	}, nil
}
