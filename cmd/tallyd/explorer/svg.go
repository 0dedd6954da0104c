package explorer

import (
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"

	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
)

// The diagrams are drawn on the server as SVG, so they need no script.
// Every text that comes from the chain goes through esc (XML escaping);
// everything else is numbers.

type (
	chartSVG   template.HTML
	sankeySVG  template.HTML
	lineageSVG template.HTML
)

func esc(s string) string { return template.HTMLEscapeString(s) }

// blockChart draws seconds per block and transactions per block over the
// blocks given, as two stacked bar charts.
func blockChart(blocks []blockRow) chartSVG {
	if len(blocks) < 2 {
		return ""
	}
	const w, h, gap = 900.0, 110.0, 30.0
	maxSec, maxTx := 1.0, 1
	for _, b := range blocks {
		maxSec = max(maxSec, b.Seconds)
		maxTx = max(maxTx, b.Txs)
	}
	bw := w / float64(len(blocks))
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="Block time and transactions per block over the last %d blocks" xmlns="http://www.w3.org/2000/svg">`, w+60, 2*h+2*gap+10, len(blocks))
	fmt.Fprintf(&sb, `<text x="0" y="14" class="ct">Seconds per block (max %.1f s)</text>`, maxSec)
	fmt.Fprintf(&sb, `<text x="0" y="%.0f" class="ct">Transactions per block (max %d)</text>`, h+gap+14, maxTx)
	for i, b := range blocks {
		x := 50 + float64(i)*bw
		sh := b.Seconds / maxSec * (h - 24)
		fmt.Fprintf(&sb, `<rect class="bar-time" x="%.2f" y="%.2f" width="%.2f" height="%.2f"><title>block %d: %.2f s</title></rect>`, x, h-sh, max(bw-0.5, 0.5), sh, b.Height, b.Seconds)
		th := float64(b.Txs) / float64(maxTx) * (h - 24)
		fmt.Fprintf(&sb, `<rect class="bar-tx" x="%.2f" y="%.2f" width="%.2f" height="%.2f"><title>block %d: %d transactions</title></rect>`, x, 2*h+gap-th, max(bw-0.5, 0.5), th, b.Height, b.Txs)
	}
	fmt.Fprintf(&sb, `<line class="axis" x1="50" y1="%.0f" x2="%.0f" y2="%.0f"/>`, h, w+50, h)
	fmt.Fprintf(&sb, `<line class="axis" x1="50" y1="%.0f" x2="%.0f" y2="%.0f"/>`, 2*h+gap, w+50, 2*h+gap)
	fmt.Fprintf(&sb, `<text x="50" y="%.0f" class="cl">block %d</text><text x="%.0f" y="%.0f" class="cl" text-anchor="end">block %d</text>`, 2*h+gap+16, blocks[0].Height, w+50, 2*h+gap+16, blocks[len(blocks)-1].Height)
	sb.WriteString(`</svg>`)
	return chartSVG(sb.String())
}

// sankey draws money flows between holders in columns: money coming in,
// the Treasury, departments, programmes, payees, settled. Each band links
// to its movements.
func sankey(flows []flow) sankeySVG {
	if len(flows) == 0 {
		return ""
	}
	col := func(h string) int {
		switch {
		case strings.HasPrefix(h, "in:"):
			return 0
		case strings.HasPrefix(h, "agency:treasury"):
			return 1
		case strings.HasPrefix(h, "agency:"):
			return 2
		case strings.HasPrefix(h, "programme:"):
			return 3
		case strings.HasPrefix(h, "payee:"):
			return 4
		default:
			return 5
		}
	}
	type node struct {
		id       string
		col      int
		in, out  uint64
		y, hgt   float64
		inY, outY float64
	}
	nodes := map[string]*node{}
	get := func(id string) *node {
		n, ok := nodes[id]
		if !ok {
			n = &node{id: id, col: col(id)}
			nodes[id] = n
		}
		return n
	}
	for _, f := range flows {
		get(f.From).out += f.Amount
		get(f.To).in += f.Amount
	}
	cols := map[int][]*node{}
	var total uint64
	for _, n := range nodes {
		cols[n.col] = append(cols[n.col], n)
	}
	for c := range cols {
		sort.Slice(cols[c], func(i, j int) bool { return cols[c][i].id < cols[c][j].id })
		var sum uint64
		for _, n := range cols[c] {
			sum += max(n.in, n.out)
		}
		total = max(total, sum)
	}
	if total == 0 {
		return ""
	}
	const w, h, nodeW, pad = 1000.0, 420.0, 14.0, 18.0
	var used []int
	for c := 0; c <= 5; c++ {
		if len(cols[c]) > 0 {
			used = append(used, c)
		}
	}
	scale := (h - pad*6) / float64(total)
	xOf := map[int]float64{}
	for i, c := range used {
		xOf[c] = 10 + float64(i)*(w-nodeW-180)/float64(max(len(used)-1, 1))
	}
	for _, c := range used {
		y := 10.0
		for _, n := range cols[c] {
			n.hgt = max(float64(max(n.in, n.out))*scale, 3)
			n.y, n.inY, n.outY = y, y, y
			y += n.hgt + pad
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="sankey" viewBox="0 0 %.0f %.0f" role="img" aria-label="Where public money went" xmlns="http://www.w3.org/2000/svg">`, w, h+20)
	for _, f := range flows {
		a, b := nodes[f.From], nodes[f.To]
		th := max(float64(f.Amount)*scale, 1.5)
		x0, x1 := xOf[a.col]+nodeW, xOf[b.col]
		y0, y1 := a.outY+th/2, b.inY+th/2
		a.outY += th
		b.inY += th
		mx := (x0 + x1) / 2
		link := "/movement/" + fmt.Sprint(f.Movements[0])
		if len(f.Movements) > 1 {
			link = "/search?q=" + url.QueryEscape(fmt.Sprint(f.Movements[0]))
		}
		fmt.Fprintf(&sb, `<a href="%s"><path class="flow" d="M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f" stroke-width="%.1f"><title>%s → %s: %s in %d movement(s)</title></path></a>`,
			esc(link), x0, y0, mx, y0, mx, y1, x1, y1, th, esc(f.From), esc(f.To), esc(pounds(f.Amount)), len(f.Movements))
	}
	for _, c := range used {
		for _, n := range cols[c] {
			fmt.Fprintf(&sb, `<a href="%s"><rect class="node c%d" x="%.1f" y="%.1f" width="%.0f" height="%.1f"><title>%s</title></rect></a>`, esc(holderLink(n.id)), c, xOf[c], n.y, nodeW, n.hgt, esc(n.id))
			fmt.Fprintf(&sb, `<text class="nl" x="%.1f" y="%.1f">%s</text>`, xOf[c]+nodeW+4, n.y+n.hgt/2+4, esc(shortLabel(n.id)))
			fmt.Fprintf(&sb, `<text class="na" x="%.1f" y="%.1f">%s</text>`, xOf[c]+nodeW+4, n.y+n.hgt/2+17, esc(pounds(max(n.in, n.out))))
		}
	}
	sb.WriteString(`</svg>`)
	return sankeySVG(sb.String())
}

func holderLink(id string) string {
	switch {
	case strings.HasPrefix(id, "agency:"):
		return "/agency/" + url.PathEscape(strings.TrimPrefix(id, "agency:"))
	case strings.HasPrefix(id, "programme:"):
		return "/programme/" + url.PathEscape(strings.TrimPrefix(id, "programme:"))
	}
	return "/money"
}

func shortLabel(id string) string {
	id = strings.TrimPrefix(strings.TrimPrefix(id, "agency:"), "in:")
	if len(id) > 28 {
		id = id[:26] + "…"
	}
	return id
}

// lineageGraph draws an item with what it was made from (left) and what
// was made from it (right); recalled items are marked.
func lineageGraph(it *provenancev1.Item, up, down []*provenancev1.Item) lineageSVG {
	const bw, bh, rowH = 250.0, 42.0, 56.0
	rows := max(len(up), len(down), 1)
	h := float64(rows)*rowH + 20
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="lineage" viewBox="0 0 900 %.0f" role="img" aria-label="Lineage of %s" xmlns="http://www.w3.org/2000/svg">`, h, esc(it.Id))
	box := func(x, y float64, i *provenancev1.Item, self bool) {
		cls := "lbox"
		if self {
			cls += " self"
		}
		if i.Status == provenancev1.ItemStatus_ITEM_STATUS_RECALLED {
			cls += " recalled"
		}
		label := i.Id
		if len(label) > 34 {
			label = "…" + label[len(label)-33:]
		}
		fmt.Fprintf(&sb, `<a href="/item/%s"><rect class="%s" x="%.0f" y="%.0f" width="%.0f" height="%.0f" rx="6"><title>%s</title></rect>`, esc(url.PathEscape(i.Id)), cls, x, y, bw, bh, esc(i.Id))
		fmt.Fprintf(&sb, `<text class="lt" x="%.0f" y="%.0f">%s</text>`, x+8, y+17, esc(label))
		fmt.Fprintf(&sb, `<text class="ls" x="%.0f" y="%.0f">%d %s · %s</text></a>`, x+8, y+34, i.Quantity, esc(i.Unit), esc(statusName(i.Status)))
	}
	midY := (h - bh) / 2
	for i, u := range up {
		y := 10 + float64(i)*rowH
		fmt.Fprintf(&sb, `<line class="edge" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, 10+bw, y+bh/2, 325.0, midY+bh/2)
		box(10, y, u, false)
	}
	for i, d := range down {
		y := 10 + float64(i)*rowH
		fmt.Fprintf(&sb, `<line class="edge" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, 325+bw, midY+bh/2, 640.0, y+bh/2)
		box(640, y, d, false)
	}
	box(325, midY, it, true)
	sb.WriteString(`</svg>`)
	return lineageSVG(sb.String())
}

func statusName(s provenancev1.ItemStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "ITEM_STATUS_"))
}
