package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// The chart is drawn here, by hand, as plain SVG: a grid of horizontal bar
// panels (one per algorithm and path), and the latency percentiles of the
// load test. No plotting tool is needed to regenerate it.

// bar is one bar of a panel.
type bar struct {
	label string
	value float64 // drawn length
	text  string  // printed after the bar
	hot   bool    // warden's own bars stand out
}

// panel is one small bar chart.
type panel struct {
	title string
	bars  []bar
}

const (
	svgWidth   = 1000
	panelCols  = 3
	panelGap   = 20
	labelWidth = 78
	rowHeight  = 17
	titleSpace = 22
)

var palette = struct{ warden, peer, floor, p50, p90, p99, text, grid string }{
	warden: "#d9480f", peer: "#4c6ef5", floor: "#868e96",
	p50: "#74c0fc", p90: "#339af0", p99: "#1864ab", text: "#212529", grid: "#dee2e6",
}

type svg struct{ b strings.Builder }

func (s *svg) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) text(x, y float64, anchor, weight string, size int, t string) {
	s.f(`<text x="%.1f" y="%.1f" text-anchor="%s" font-weight="%s" font-size="%d">%s</text>`+"\n",
		x, y, anchor, weight, size, html.EscapeString(t))
}

// chart draws the title, the grid of panels (panelCols a row), and the
// load-test percentiles below them.
func chart(title string, subtitle []string, panels []panel, load []loadResult) string {
	panelW := float64(svgWidth-(panelCols+1)*panelGap) / panelCols
	var s svg
	y := 44.0 + 14*float64(len(subtitle))
	var body svg
	rowY := y
	for i := 0; i < len(panels); i += panelCols {
		tallest := 0
		for j := i; j < min(i+panelCols, len(panels)); j++ {
			x := panelGap + float64(j-i)*(panelW+panelGap)
			drawPanel(&body, panels[j], x, rowY, panelW)
			tallest = max(tallest, len(panels[j].bars))
		}
		rowY += titleSpace + float64(tallest*rowHeight) + panelGap
	}
	if len(load) > 0 {
		rowY = drawLoad(&body, load, rowY)
	}
	height := rowY + 10
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%.0f" viewBox="0 0 %d %.0f" font-family="Helvetica, Arial, sans-serif" fill="%s">`+"\n",
		svgWidth, height, svgWidth, height, palette.text)
	s.f(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	s.text(panelGap, 22, "start", "bold", 16, title)
	for i, line := range subtitle {
		s.text(panelGap, 40+14*float64(i), "start", "normal", 11, line)
	}
	s.b.WriteString(body.b.String())
	s.f("</svg>\n")
	return s.b.String()
}

func drawPanel(s *svg, p panel, x, y, w float64) {
	s.text(x, y+12, "start", "bold", 12, p.title)
	top := y + titleSpace
	maxV := 0.0
	for _, b := range p.bars {
		maxV = math.Max(maxV, b.value)
	}
	span := w - labelWidth - 92 // room for the value text
	for i, b := range p.bars {
		by := top + float64(i*rowHeight)
		s.text(x+labelWidth-6, by+11, "end", weightOf(b.hot), 11, b.label)
		length := 0.0
		if maxV > 0 {
			length = math.Max(1, b.value/maxV*span)
		}
		color := palette.peer
		switch {
		case b.hot:
			color = palette.warden
		case b.label == "floor":
			color = palette.floor
		}
		s.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>`+"\n", x+labelWidth, by+2, length, rowHeight-5, color)
		s.text(x+labelWidth+length+4, by+11, "start", weightOf(b.hot), 10, b.text)
	}
	s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x+labelWidth, top, x+labelWidth, top+float64(len(p.bars)*rowHeight), palette.grid)
}

func weightOf(hot bool) string {
	if hot {
		return "bold"
	}
	return "normal"
}

// drawLoad draws, for each load-test scenario, its p50, p90 and p99
// latency on one scale, and returns the y below it.
func drawLoad(s *svg, load []loadResult, y float64) float64 {
	s.text(panelGap, y+12, "start", "bold", 12, "Latency under load over loopback (ms; median round; 16 clients)")
	top := y + titleSpace
	maxV := 0.0
	for _, l := range load {
		maxV = math.Max(maxV, l.p99)
	}
	x := float64(panelGap) + 110
	span := float64(svgWidth) - x - 200
	rows := 0
	for _, l := range load {
		label := l.name
		s.text(x-8, top+float64(rows*rowHeight)+11+rowHeight, "end", weightOf(l.name != "unprotected" && l.name != "carried"), 11, label)
		s.text(x-8, top+float64(rows*rowHeight)+11+2*rowHeight, "end", "normal", 10, fmt.Sprintf("%.0f req/s", l.rps))
		for k, p := range []struct {
			name  string
			v     float64
			color string
		}{{"p50", l.p50, palette.p50}, {"p90", l.p90, palette.p90}, {"p99", l.p99, palette.p99}} {
			by := top + float64((rows+k)*rowHeight)
			length := math.Max(1, p.v/maxV*span)
			s.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>`+"\n", x, by+2, length, rowHeight-5, p.color)
			s.text(x+length+4, by+11, "start", "normal", 10, fmt.Sprintf("%s %.2f ms", p.name, p.v))
		}
		rows += 4
	}
	return top + float64(rows*rowHeight)
}
