package model_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/model"
)

// fromConfig builds the model a run configuration describes.
func fromConfig(t *testing.T, c *config.Config) *model.Model {
	t.Helper()
	mc, err := c.ModelConfig()
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSummaryOfTheOfficialConfig builds the model of the official
// in1k_vith14_ep300.yaml and checks the summary's totals against the
// official classes' counts: ViT-H/14 at 224 has 630.43M trainable encoder
// parameters (630.76M with the fixed position table), its predictor (width
// 384, depth 12) 22.38M with its table.
func TestSummaryOfTheOfficialConfig(t *testing.T) {
	c, err := config.Load("../config/testdata/in1k_vith14_ep300.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := fromConfig(t, c)
	var buf bytes.Buffer
	if err := m.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Logf("\n%s", out)
	for _, want := range []string{
		"encoder: vit_huge, 224x224 px in 16x16 patches of 14, width 1280, depth 32, 16 heads, MLP 5120",
		"total: 630.76M, 630.43M trainable",
		"predictor: width 384, depth 12, 16 heads, MLP 1536",
		"total: 22.38M, 22.28M trainable",
		"blocks.0-31",
		"predictor_blocks.0-11",
		"pos_embed (fixed sin-cos)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	// The rows add up to the parameter lists.
	var enc, encTrain int64
	for _, r := range m.Summary() {
		if r.Network == "encoder" {
			enc += r.Params
			encTrain += r.Trainable
		}
		if r.Module == "blocks.0-31" && (r.Blocks != 32 || r.Params != 32*19677440) {
			t.Errorf("encoder blocks: %d blocks, %d parameters; want 32 of 19,677,440", r.Blocks, r.Params)
		}
	}
	if enc != 630762240 || encTrain != 630434560 {
		t.Errorf("encoder rows sum to %d (%d trainable), want 630,762,240 (630,434,560)", enc, encTrain)
	}
}
