package model

import (
	"fmt"
	"io"
	"strings"

	"github.com/ijepa-go/ijepa/nn"
)

// SummaryRow is one module of a model summary.
type SummaryRow struct {
	// Network is "encoder", "predictor" or "target_encoder".
	Network string
	// Module is the module's name: a parameter's name without .weight or
	// .bias, or for the transformer blocks "blocks.0-31" (all of them).
	Module string
	// Blocks is the number of transformer blocks the row covers (0 for
	// other modules).
	Blocks int
	// Params counts every value; Trainable the ones the optimiser updates
	// (the fixed sin-cos position tables are not).
	Params, Trainable int64
}

// Summary lists the model's modules, network by network, with their
// parameter counts; it needs no allocation.
func (m *Model) Summary() []SummaryRow {
	var rows []SummaryRow
	for _, net := range []struct {
		name   string
		params []*nn.Param
	}{{"encoder", m.Encoder.Params()}, {"predictor", m.Predictor.Params()}, {"target_encoder", m.Target.Params()}} {
		at := map[string]int{}
		for _, p := range net.params {
			mod, block := moduleOf(p.Name)
			i, ok := at[mod]
			if !ok {
				i = len(rows)
				at[mod] = i
				rows = append(rows, SummaryRow{Network: net.name, Module: mod})
			}
			r := &rows[i]
			if block && strings.HasSuffix(p.Name, ".norm1.weight") {
				r.Blocks++
			}
			r.Params += p.NumElements()
			if p.Trainable && net.name != "target_encoder" {
				r.Trainable += p.NumElements()
			}
		}
		for i := range rows {
			if rows[i].Blocks > 0 && rows[i].Network == net.name {
				rows[i].Module = fmt.Sprintf("%s.0-%d", rows[i].Module, rows[i].Blocks-1)
			}
		}
	}
	return rows
}

// moduleOf returns the summary module of a parameter name, and whether it
// is in a transformer block.
func moduleOf(name string) (string, bool) {
	for _, blocks := range []string{"blocks.", "predictor_blocks."} {
		if strings.HasPrefix(name, blocks) {
			return strings.TrimSuffix(blocks, "."), true
		}
	}
	for _, leaf := range []string{".weight", ".bias"} {
		if s, ok := strings.CutSuffix(name, leaf); ok {
			return s, false
		}
	}
	return name, false
}

// WriteSummary writes the model's summary as a table: for the encoder and
// the predictor a line with the configuration and one row per module with
// its parameter count and trainable count, then the network's totals (also
// in millions, as the paper counts them); the target encoder's total; and
// the size of AdamW's state.
func (m *Model) WriteSummary(w io.Writer) error {
	e := m.EncCfg
	name := m.Cfg.Model
	if name == "" {
		name = "ViT"
	}
	type line struct {
		text       string
		all, train int64
		numbers    bool
	}
	var lines []line
	total := map[string][2]int64{}
	rows := m.Summary()
	for _, r := range rows {
		t := total[r.Network]
		total[r.Network] = [2]int64{t[0] + r.Params, t[1] + r.Trainable}
	}
	for i, r := range rows {
		if r.Network == "target_encoder" {
			continue
		}
		if i == 0 || rows[i-1].Network != r.Network {
			head := fmt.Sprintf("predictor: width %d, depth %d, %d heads, MLP %d", m.Predictor.Dim, len(m.Predictor.Blocks), m.Predictor.Heads, 4*m.Predictor.Dim)
			if r.Network == "encoder" {
				px := fmt.Sprintf("%dx%d px", e.ImgSize, e.ImgSize)
				if e.Channels != 3 {
					px += fmt.Sprintf(" of %d channel(s)", e.Channels)
				}
				head = fmt.Sprintf("encoder: %s, %s in %dx%d patches of %d, width %d, depth %d, %d heads, MLP %d",
					name, px, e.Grid(), e.Grid(), e.Patch, e.Dim, e.Depth, e.Heads, e.MLPHidden)
			}
			lines = append(lines, line{text: head})
		}
		mod := "  " + r.Module
		if r.Trainable == 0 {
			mod += " (fixed sin-cos)"
		}
		lines = append(lines, line{mod, r.Params, r.Trainable, true})
		if i+1 == len(rows) || rows[i+1].Network != r.Network {
			t := total[r.Network]
			lines = append(lines, line{fmt.Sprintf("  total: %.2fM, %.2fM trainable", float64(t[0])/1e6, float64(t[1])/1e6), t[0], t[1], true})
		}
	}
	t := total["target_encoder"]
	lines = append(lines, line{"target_encoder: the encoder's EMA, not trained by the optimiser", t[0], 0, true})
	moments := 2 * (total["encoder"][1] + total["predictor"][1])
	lines = append(lines, line{fmt.Sprintf("AdamW moments: 2 x %.2fM", float64(moments/2)/1e6), moments, 0, true})
	width := len("module")
	for _, l := range lines {
		if l.numbers {
			width = max(width, len(l.text))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %15s  %15s\n", width, "module", "parameters", "trainable")
	for _, l := range lines {
		if !l.numbers {
			fmt.Fprintln(&b, l.text)
			continue
		}
		fmt.Fprintf(&b, "%-*s  %15s  %15s\n", width, l.text, group(l.all), group(l.train))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// group formats n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
