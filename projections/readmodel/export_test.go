package readmodel

import "github.com/dotmac/ledger/projections"

// NewLoadHolding is p's Load, writing its changing rows whenever it holds maxRows of them.
func NewLoadHolding(p projections.Projection, maxRows int) projections.Load {
	l := p.Tuning().NewLoad()
	if h, ok := l.(*heldLoad); ok {
		h.maxRows = maxRows
	}
	return l
}
