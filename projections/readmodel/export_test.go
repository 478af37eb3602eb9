package readmodel

import "github.com/dotmac/ledger/projections"

// NewLoadHolding is p's Load, writing its changing rows whenever it holds maxRows of them.
func NewLoadHolding(p projections.Loader, maxRows int) projections.Load {
	switch l := p.NewLoad().(type) {
	case *invoicesLoad:
		l.maxRows = maxRows
		return l
	case *balancesLoad:
		l.maxRows = maxRows
		return l
	default:
		return l
	}
}
