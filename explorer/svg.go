package explorer

import (
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/tallyledger/tally/api"
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
	// A halt (validators down) makes one block take minutes; scale to
	// five times the median so ordinary blocks stay visible, and clip
	// the rest (each bar's tooltip keeps its real value).
	secs := make([]float64, 0, len(blocks))
	maxTx := 1
	for _, b := range blocks {
		secs = append(secs, b.Seconds)
		maxTx = max(maxTx, b.Txs)
	}
	slices.Sort(secs)
	maxSec := max(0.5, min(secs[len(secs)-1], 5*secs[len(secs)/2]))
	bw := w / float64(len(blocks))
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="Block time and transactions per block over the last %d blocks" xmlns="http://www.w3.org/2000/svg">`, w+60, 2*h+2*gap+10, len(blocks))
	fmt.Fprintf(&sb, `<text x="0" y="14" class="ct">Seconds per block (scale to %.1f s)</text>`, maxSec)
	fmt.Fprintf(&sb, `<text x="0" y="%.0f" class="ct">Transactions per block (max %d)</text>`, h+gap+14, maxTx)
	for i, b := range blocks {
		x := 50 + float64(i)*bw
		sh := min(b.Seconds, maxSec) / maxSec * (h - 24)
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
// the Treasury, departments, programmes, payees, money going out. Each
// band links to its row of movements on the money page; each box to its
// holder.
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
		id, name string
		col      int
		in, out  uint64
		y, hgt   float64
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
		get(f.From).name, get(f.To).name = f.FromName, f.ToName
	}
	cols := map[int][]*node{}
	for _, n := range nodes {
		cols[n.col] = append(cols[n.col], n)
	}
	// minSlot keeps a small holder's two-line label clear of the next.
	const w, nodeW, pad, minSlot, bandH = 1100.0, 14.0, 10.0, 34.0, 360.0
	var total uint64
	var used []int
	for c := 0; c <= 5; c++ {
		if len(cols[c]) == 0 {
			continue
		}
		used = append(used, c)
		// Big holders first, so the main flow runs along the top.
		sort.Slice(cols[c], func(i, j int) bool {
			a, b := max(cols[c][i].in, cols[c][i].out), max(cols[c][j].in, cols[c][j].out)
			if a != b {
				return a > b
			}
			return cols[c][i].id < cols[c][j].id
		})
		var sum uint64
		for _, n := range cols[c] {
			sum += max(n.in, n.out)
		}
		total = max(total, sum)
	}
	if total == 0 {
		return ""
	}
	scale := bandH / float64(total)
	xOf := map[int]float64{}
	labelW := 140.0
	for i, c := range used {
		xOf[c] = 10 + float64(i)*(w-nodeW-labelW-10)/float64(max(len(used)-1, 1))
	}
	height := 0.0
	for _, c := range used {
		y := 30.0 // below the column headings
		for _, n := range cols[c] {
			n.hgt = max(float64(max(n.in, n.out))*scale, 4)
			n.y = y
			y += max(n.hgt, minSlot) + pad
		}
		height = max(height, y)
	}
	// Bands leave a holder in the order of their targets and enter in the
	// order of their sources, so they do not cross needlessly.
	type band struct {
		f      flow
		i      int
		y0, y1 float64
		th     float64
	}
	bands := make([]*band, len(flows))
	for i, f := range flows {
		bands[i] = &band{f: f, i: i, th: max(float64(f.Amount)*scale, 2.5)}
	}
	byTarget := slices.Clone(bands)
	sort.SliceStable(byTarget, func(i, j int) bool { return nodes[byTarget[i].f.To].y < nodes[byTarget[j].f.To].y })
	off := map[string]float64{}
	for _, b := range byTarget {
		a := nodes[b.f.From]
		b.y0 = a.y + off[a.id] + b.th/2
		off[a.id] += b.th
	}
	bySource := slices.Clone(bands)
	sort.SliceStable(bySource, func(i, j int) bool { return nodes[bySource[i].f.From].y < nodes[bySource[j].f.From].y })
	off = map[string]float64{}
	for _, b := range bySource {
		t := nodes[b.f.To]
		b.y1 = t.y + off[t.id] + b.th/2
		off[t.id] += b.th
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="sankey" viewBox="0 0 %.0f %.0f" role="img" aria-label="Where public money went" xmlns="http://www.w3.org/2000/svg">`, w, height+10)
	for _, b := range bands {
		a, t := nodes[b.f.From], nodes[b.f.To]
		x0, x1 := xOf[a.col]+nodeW, xOf[t.col]
		mx := (x0 + x1) / 2
		fmt.Fprintf(&sb, `<a href="/money#flow-%d"><path class="flow" d="M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f" stroke-width="%.1f"><title>%s → %s: %s in %d movement(s)</title></path></a>`,
			b.i, x0, b.y0, mx, b.y0, mx, b.y1, x1, b.y1, b.th, esc(firstNonEmpty(b.f.FromName, b.f.From)), esc(firstNonEmpty(b.f.ToName, b.f.To)), esc(pounds(b.f.Amount)), len(b.f.Movements))
	}
	headings := []string{"Money in", "Treasury", "Departments", "Programmes", "Paid to", "Money out"}
	for _, c := range used {
		fmt.Fprintf(&sb, `<text class="ct" x="%.1f" y="14">%s</text>`, xOf[c], headings[c])
	}
	for _, c := range used {
		for _, n := range cols[c] {
			mid := n.y + max(n.hgt, minSlot-pad)/2
			fmt.Fprintf(&sb, `<a href="%s"><rect class="node c%d" x="%.1f" y="%.1f" width="%.0f" height="%.1f"><title>%s</title></rect></a>`, esc(holderLink(n.id)), c, xOf[c], n.y, nodeW, n.hgt, esc(firstNonEmpty(n.name, n.id)))
			fmt.Fprintf(&sb, `<text class="nl" x="%.1f" y="%.1f">%s</text>`, xOf[c]+nodeW+5, mid-2, esc(shortLabel(firstNonEmpty(n.name, n.id))))
			fmt.Fprintf(&sb, `<text class="na" x="%.1f" y="%.1f">%s</text>`, xOf[c]+nodeW+5, mid+12, esc(pounds(max(n.in, n.out))))
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
	for _, p := range []string{"agency:", "programme:", "payee:", "in:", "out:"} {
		id = strings.TrimPrefix(id, p)
	}
	if r := []rune(id); len(r) > 22 {
		id = string(r[:21]) + "…"
	}
	return id
}

// lineageGraph draws an item in the middle, what it was made from in
// columns to the left (parents, then their parents) and what was made
// from it to the right; recalled items are red.
func lineageGraph(it *provenancev1.Item, up, down []*provenancev1.Item) lineageSVG {
	const bw, bh, rowH, colW = 270.0, 42.0, 56.0, 310.0
	// Depth of each item from the centre, following parents (up) or
	// children (down) links among the items given.
	level := func(items []*provenancev1.Item, next func(*provenancev1.Item) []string) (map[string]int, [][]*provenancev1.Item) {
		byID := map[string]*provenancev1.Item{}
		for _, i := range items {
			byID[i.Id] = i
		}
		depth := map[string]int{it.Id: 0}
		var cols [][]*provenancev1.Item
		frontier := []*provenancev1.Item{it}
		for d := 1; len(frontier) > 0 && d <= 6; d++ {
			var nf []*provenancev1.Item
			for _, f := range frontier {
				for _, id := range next(f) {
					if x, ok := byID[id]; ok {
						if _, seen := depth[id]; !seen {
							depth[id] = d
							nf = append(nf, x)
						}
					}
				}
			}
			if len(nf) > 0 {
				cols = append(cols, nf)
			}
			frontier = nf
		}
		return depth, cols
	}
	_, upCols := level(up, func(i *provenancev1.Item) []string { return i.Parents })
	_, downCols := level(down, func(i *provenancev1.Item) []string { return i.Children })
	rows := 1
	for _, c := range append(slices.Clone(upCols), downCols...) {
		rows = max(rows, len(c))
	}
	h := float64(rows)*rowH + 10
	width := float64(len(upCols)+len(downCols)+1)*colW + 10
	centreX := 10 + float64(len(upCols))*colW
	pos := map[string][2]float64{}
	place := func(cols [][]*provenancev1.Item, dir float64) {
		for d, c := range cols {
			top := (h - float64(len(c))*rowH) / 2
			for i, x := range c {
				pos[x.Id] = [2]float64{centreX + dir*float64(d+1)*colW, top + float64(i)*rowH + (rowH-bh)/2}
			}
		}
	}
	pos[it.Id] = [2]float64{centreX, (h - bh) / 2}
	place(upCols, -1)
	place(downCols, 1)
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="lineage" viewBox="0 0 %.0f %.0f" role="img" aria-label="Lineage of %s" xmlns="http://www.w3.org/2000/svg">`, width, h, esc(it.Id))
	all := append(append([]*provenancev1.Item{it}, up...), down...)
	for _, x := range all {
		p, ok := pos[x.Id]
		if !ok {
			continue
		}
		for _, par := range x.Parents {
			if q, ok := pos[par]; ok {
				fmt.Fprintf(&sb, `<line class="edge" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, q[0]+bw, q[1]+bh/2, p[0], p[1]+bh/2)
			}
		}
	}
	for _, x := range all {
		p, ok := pos[x.Id]
		if !ok {
			continue
		}
		cls := "lbox"
		if x.Id == it.Id {
			cls += " self"
		}
		if x.Status == provenancev1.ItemStatus_ITEM_STATUS_RECALLED {
			cls += " recalled"
		}
		label := x.Id
		if len(label) > 28 {
			label = "…" + label[len(label)-27:]
		}
		fmt.Fprintf(&sb, `<a href="/item/%s"><rect class="%s" x="%.0f" y="%.0f" width="%.0f" height="%.0f" rx="6"><title>%s</title></rect>`, esc(url.PathEscape(x.Id)), cls, p[0], p[1], bw, bh, esc(x.Id))
		fmt.Fprintf(&sb, `<text class="lt" x="%.0f" y="%.0f">%s</text>`, p[0]+8, p[1]+17, esc(label))
		fmt.Fprintf(&sb, `<text class="ls" x="%.0f" y="%.0f">%d %s · %s</text></a>`, p[0]+8, p[1]+34, x.Quantity, esc(x.Unit), esc(statusName(x.Status)))
	}
	sb.WriteString(`</svg>`)
	return lineageSVG(sb.String())
}

func statusName(s provenancev1.ItemStatus) string { return api.EnumName(s, "ITEM_STATUS_") }
