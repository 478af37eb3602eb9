package console

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/readapi"
)

// Charts are inline SVG drawn here: no script, a fixed aspect ratio (no layout shift), a
// title and description for screen readers, and always a table of the same figures next to
// them on the page.
const (
	chartW, chartH      = 720, 260
	padL, padR          = 72, 16
	padT, padB          = 16, 40
	maxXLabels          = 12
	chartLabelFontPx    = 11
	chartMaxPoints      = 2000
	chartDecimalsToDraw = 2
)

// point is one x label and its value.
type point struct {
	Label string
	Value decimal.Decimal
}

// segment is one part of a bar: positive ones stack up, negative ones down.
type segment struct {
	Name, Class string
	Value       decimal.Decimal
}

// barGroup is one bar (a month, a bucket) of segments.
type barGroup struct {
	Label    string
	Segments []segment
}

// scale maps values of [lo, hi] to the plot's height.
type scale struct{ lo, hi decimal.Decimal }

func newScale(vals []decimal.Decimal) scale {
	s := scale{lo: decimal.Zero, hi: decimal.Zero}
	for _, v := range vals {
		s.lo, s.hi = decimal.Min(s.lo, v), decimal.Max(s.hi, v)
	}
	if s.hi.Equal(s.lo) {
		s.hi = s.lo.Add(decimal.NewFromInt(1))
	}
	return s
}

func (s scale) y(v decimal.Decimal) float64 {
	f, _ := v.Sub(s.lo).Div(s.hi.Sub(s.lo)).Float64() // drawing only: never a figure shown
	return float64(padT) + (1-f)*float64(chartH-padT-padB)
}

// svgOpen starts a chart with its accessible name and description.
func svgOpen(b *strings.Builder, id, title, desc string) {
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" preserveAspectRatio="xMidYMid meet">`,
		chartW, chartH, id, id)
	fmt.Fprintf(b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, html.EscapeString(title), id, html.EscapeString(desc))
}

// axes draws the y axis's low, zero and high values and the zero line.
func axes(b *strings.Builder, s scale) {
	seen := map[string]bool{}
	for _, v := range []decimal.Decimal{s.lo, decimal.Zero, s.hi} {
		if seen[v.String()] {
			continue
		}
		seen[v.String()] = true
		y := s.y(v)
		fmt.Fprintf(b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padL, chartW-padR, y, y)
		fmt.Fprintf(b, `<text class="ylab" x="%d" y="%.1f" text-anchor="end" font-size="%d">%s</text>`, padL-6, y+4,
			chartLabelFontPx, html.EscapeString(formatAmount(v.StringFixed(0))))
	}
}

// xLabels writes at most maxXLabels of labels under the plot.
func xLabels(b *strings.Builder, labels []string, x func(i int) float64) {
	step := max(1, (len(labels)+maxXLabels-1)/maxXLabels)
	for i := 0; i < len(labels); i += step {
		anchor := "middle"
		switch {
		case x(i) < float64(padL)+30:
			anchor = "start"
		case x(i) > float64(chartW-padR)-30:
			anchor = "end"
		}
		fmt.Fprintf(b, `<text class="xlab" x="%.1f" y="%d" text-anchor="%s" font-size="%d">%s</text>`, x(i), chartH-padB+16,
			anchor, chartLabelFontPx, html.EscapeString(labels[i]))
	}
}

// lineChart draws pts as a step line (a balance holds until the next change).
func lineChart(id, title, desc string, pts []point, step bool) template.HTML {
	var b strings.Builder
	svgOpen(&b, id, title, desc)
	if len(pts) > chartMaxPoints {
		pts = pts[len(pts)-chartMaxPoints:]
	}
	vals := make([]decimal.Decimal, len(pts))
	labels := make([]string, len(pts))
	for i, p := range pts {
		vals[i], labels[i] = p.Value, p.Label
	}
	s := newScale(vals)
	axes(&b, s)
	n := max(1, len(pts)-1)
	x := func(i int) float64 { return float64(padL) + float64(i)*float64(chartW-padL-padR)/float64(n) }
	var path strings.Builder
	for i, p := range pts {
		y := s.y(p.Value)
		switch {
		case i == 0:
			fmt.Fprintf(&path, "M%.1f %.1f", x(i), y)
		case step:
			fmt.Fprintf(&path, " H%.1f V%.1f", x(i), y)
		default:
			fmt.Fprintf(&path, " L%.1f %.1f", x(i), y)
		}
	}
	if len(pts) > 0 {
		fmt.Fprintf(&b, `<path class="line" d="%s" fill="none"/>`, path.String())
		for i, p := range pts {
			fmt.Fprintf(&b, `<circle class="dot" cx="%.1f" cy="%.1f" r="3"><title>%s: %s</title></circle>`, x(i), s.y(p.Value),
				html.EscapeString(p.Label), html.EscapeString(formatAmount(p.Value.StringFixed(chartDecimalsToDraw))))
		}
	}
	xLabels(&b, labels, x)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec G203 -- every text in it is escaped above
}

// barChart draws groups as bars of stacked segments.
func barChart(id, title, desc string, groups []barGroup) template.HTML {
	var b strings.Builder
	svgOpen(&b, id, title, desc)
	var extremes []decimal.Decimal
	for _, g := range groups {
		up, down := decimal.Zero, decimal.Zero
		for _, sg := range g.Segments {
			if sg.Value.IsNegative() {
				down = down.Add(sg.Value)
			} else {
				up = up.Add(sg.Value)
			}
		}
		extremes = append(extremes, up, down)
	}
	s := newScale(extremes)
	axes(&b, s)
	slot := float64(chartW-padL-padR) / float64(max(1, len(groups)))
	barW := slot * 0.6
	x := func(i int) float64 { return float64(padL) + slot*(float64(i)+0.5) }
	labels := make([]string, len(groups))
	for i, g := range groups {
		labels[i] = g.Label
		up, down := decimal.Zero, decimal.Zero
		for _, sg := range g.Segments {
			from := up
			if sg.Value.IsNegative() {
				from = down
				down = down.Add(sg.Value)
			} else {
				up = up.Add(sg.Value)
			}
			to := from.Add(sg.Value)
			y1, y2 := s.y(from), s.y(to)
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %s</title></rect>`,
				html.EscapeString(sg.Class), x(i)-barW/2, min(y1, y2), barW, max(0.5, math.Abs(y2-y1)),
				html.EscapeString(g.Label), html.EscapeString(sg.Name), html.EscapeString(formatAmount(sg.Value.StringFixed(chartDecimalsToDraw))))
		}
	}
	xLabels(&b, labels, x)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec G203 -- every text in it is escaped above
}

// balanceChart draws a customer's running balance, one point per statement line.
func balanceChart(lines []readapi.StatementLine, currency string) template.HTML {
	pts := make([]point, 0, len(lines)+1)
	for _, l := range lines {
		pts = append(pts, point{Label: l.Date, Value: dec(l.BalanceAfter.Amount)})
	}
	return lineChart("balance", "Balance over time ("+currency+")",
		"The customer's balance after each statement line, as in the statement table below.", pts, true)
}
