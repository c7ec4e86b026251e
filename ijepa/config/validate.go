package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/mask"
)

// Validate checks every value and the relations between them (the patch
// size divides the crop, the mask settings can be sampled, the predictor
// width suits the heads, ...). It returns the first problem as an *Error.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return &Error{Source: c.source, Key: key, Origin: c.origin[key], Msg: fmt.Sprintf(format, args...)}
	}
	positive := func(key string, v int64) error {
		if v < 1 {
			return bad(key, "must be a positive integer, got %d", v)
		}
		return nil
	}
	nonNegative := func(key string, v int64) error {
		if v < 0 {
			return bad(key, "must be a non-negative integer, got %d", v)
		}
		return nil
	}
	oneOf := func(key, v string, options []string) error {
		for _, o := range options {
			if v == o {
				return nil
			}
		}
		return bad(key, "must be one of %s, got %q", strings.Join(options, ", "), v)
	}
	pair := func(key string, v [2]float64, lo, hi float64, open bool) error {
		ok := v[0] <= v[1] && v[1] <= hi && (v[0] > lo || !open && v[0] >= lo)
		if !ok {
			op := "<="
			if open {
				op = "<"
			}
			return bad(key, "must be [min, max] with %g %s min <= max <= %g, got [%g, %g]", lo, op, hi, v[0], v[1])
		}
		return nil
	}
	d, m, mt, o, ij := c.Data, c.Mask, c.Meta, c.Optimization, c.IJEPAGo
	checks := []func() error{
		func() error { return positive("data.batch_size", int64(d.BatchSize)) },
		func() error { return positive("data.crop_size", int64(d.CropSize)) },
		func() error { return pair("data.crop_scale", d.CropScale, 0, 1, true) },
		func() error { return nonNegative("data.num_workers", int64(d.NumWorkers)) },
		func() error {
			if d.ColorJitterStrength < 0 {
				return bad("data.color_jitter_strength", "must not be negative, got %g", d.ColorJitterStrength)
			}
			return nil
		},
		func() error {
			for _, f := range []struct {
				key string
				on  bool
			}{{"data.use_color_distortion", d.UseColorDistortion}, {"data.use_gaussian_blur", d.UseGaussianBlur}, {"data.use_horizontal_flip", d.UseHorizontalFlip}} {
				if f.on {
					return bad(f.key, "is not supported: only RandomResizedCrop is implemented (every official config sets this false)")
				}
			}
			return nil
		},
		func() error { return positive("mask.patch_size", int64(m.PatchSize)) },
		func() error {
			if d.CropSize%m.PatchSize != 0 {
				return bad("mask.patch_size", "must divide data.crop_size %d, got %d", d.CropSize, m.PatchSize)
			}
			return nil
		},
		func() error {
			return oneOf("ijepago.mask_mode", ij.MaskMode, []string{string(mask.Official), string(mask.Fixed)})
		},
		func() error {
			_, err := mask.New(c.MaskConfig())
			var se *mask.SettingError
			if errors.As(err, &se) {
				key := "mask." + se.Key
				switch se.Key {
				case "grid":
					key = "mask.patch_size"
				case "mode":
					key = "ijepago.mask_mode"
				}
				return bad(key, "%s", se.Msg)
			}
			return err
		},
		c.validateEncoder,
		func() error { return positive("meta.pred_depth", int64(mt.PredDepth)) },
		func() error { return positive("meta.pred_emb_dim", int64(mt.PredEmbDim)) },
		func() error { return nonNegative("ijepago.predictor_heads", int64(ij.PredictorHeads)) },
		func() error {
			pred, _ := c.Predictor()
			if mt.PredEmbDim%pred.Heads != 0 {
				key, whose := "meta.pred_emb_dim", "ijepago.predictor_heads"
				if ij.PredictorHeads == 0 {
					whose = "the encoder's, as ijepago.predictor_heads is 0"
				}
				return bad(key, "must be a multiple of the predictor's %d heads (%s), got %d", pred.Heads, whose, mt.PredEmbDim)
			}
			if mt.PredEmbDim%4 != 0 {
				return bad("meta.pred_emb_dim", "must be a multiple of 4 (2-D sin-cos positions), got %d", mt.PredEmbDim)
			}
			return nil
		},
		func() error { return positive("optimization.epochs", int64(o.Epochs)) },
		func() error {
			for _, v := range []struct {
				key string
				x   float64
			}{{"optimization.start_lr", o.StartLR}, {"optimization.final_lr", o.FinalLR}, {"optimization.weight_decay", o.WeightDecay}, {"optimization.final_weight_decay", o.FinalWeightDecay}} {
				if v.x < 0 {
					return bad(v.key, "must not be negative, got %g", v.x)
				}
			}
			if o.LR <= 0 {
				return bad("optimization.lr", "must be positive, got %g", o.LR)
			}
			if !(o.IPEScale >= 1) {
				return bad("optimization.ipe_scale", "must be at least 1 (the schedules must span the whole run), got %g", o.IPEScale)
			}
			if o.Warmup < 0 || o.Warmup > float64(o.Epochs) {
				return bad("optimization.warmup", "must be from 0 to optimization.epochs (%d), got %g", o.Epochs, o.Warmup)
			}
			return nil
		},
		func() error { return pair("optimization.ema", o.EMA, 0, 1, false) },
		func() error {
			if c.Logging.WriteTag == "" || strings.ContainsAny(c.Logging.WriteTag, `/\`) {
				return bad("logging.write_tag", "must be a non-empty file name prefix, got %q", c.Logging.WriteTag)
			}
			return nil
		},
		func() error {
			if ij.Backend == "" {
				return bad("ijepago.backend", "must name a backend (e.g. cpu, vulkan, plugin:PATH)")
			}
			return nil
		},
		func() error { return nonNegative("ijepago.steps", ij.Steps) },
		func() error { return nonNegative("ijepago.checkpoint_every", ij.CheckpointEvery) },
		func() error { return positive("ijepago.log_every", ij.LogEvery) },
		func() error { return oneOf("ijepago.dataset", ij.Dataset, data.Kinds) },
		func() error {
			if ij.Dataset != data.KindProcedural {
				return nil
			}
			if ij.DatasetSize < d.BatchSize {
				return bad("ijepago.dataset_size", "must be at least one batch (data.batch_size %d), got %d", d.BatchSize, ij.DatasetSize)
			}
			return positive("ijepago.eval_size", int64(ij.EvalSize))
		},
		func() error { return oneOf("ijepago.loss", ij.Loss, []string{"smooth_l1", "l2"}) },
		func() error { return nonNegative("ijepago.prefetch", int64(ij.Prefetch)) },
		func() error { return nonNegative("ijepago.probe_every", ij.ProbeEvery) },
		func() error { return nonNegative("ijepago.probe_train", int64(ij.ProbeTrain)) },
		func() error { return nonNegative("ijepago.probe_test", int64(ij.ProbeTest)) },
		func() error {
			if ij.ProbeL2 < 0 {
				return bad("ijepago.probe_l2", "must not be negative, got %g", ij.ProbeL2)
			}
			return nil
		},
		func() error { return positive("ijepago.probe_iterations", int64(ij.ProbeIterations)) },
		func() error { return positive("ijepago.knn_k", int64(ij.KNNK)) },
		func() error {
			if ij.KNNTemperature <= 0 {
				return bad("ijepago.knn_temperature", "must be positive, got %g", ij.KNNTemperature)
			}
			return nil
		},
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateEncoder checks the encoder's shape: meta.model_name names a
// size, or ijepago.encoder gives one (and then meta.model_name is not
// given too), and ijepago.in_chans is 1 or 3.
func (c *Config) validateEncoder() error {
	bad := func(key, format string, args ...any) error {
		return &Error{Source: c.source, Key: key, Origin: c.origin[key], Msg: fmt.Sprintf(format, args...)}
	}
	e := c.IJEPAGo.Encoder
	checks := []func() error{
		func() error {
			if ch := c.IJEPAGo.InChans; ch != 1 && ch != 3 {
				return bad("ijepago.in_chans", "must be 3 (RGB) or 1 (grey), got %d", ch)
			}
			return nil
		},
		func() error {
			if e.Explicit() {
				return nil
			}
			if e.Depth != 0 || e.NumHeads != 0 {
				return bad("ijepago.encoder.embed_dim", "must be given with ijepago.encoder's depth %d and num_heads %d", e.Depth, e.NumHeads)
			}
			if _, err := LookupModel(c.Meta.ModelName); err != nil {
				return bad("meta.model_name", "%s (or give the sizes in ijepago.encoder)", err.Error())
			}
			return nil
		},
		func() error {
			if !e.Explicit() {
				return nil
			}
			if c.origin["meta.model_name"] != "" && c.Meta.ModelName != "" {
				return bad("meta.model_name", "is %q, but ijepago.encoder gives the encoder's sizes: give one of them", c.Meta.ModelName)
			}
			if _, err := c.Encoder(); err != nil {
				key := "ijepago.encoder.embed_dim"
				switch {
				case e.Depth < 1:
					key = "ijepago.encoder.depth"
				case e.NumHeads < 1 || e.EmbedDim%e.NumHeads != 0:
					key = "ijepago.encoder.num_heads"
				case !(e.MLPRatio > 0) || int(float64(e.EmbedDim)*e.MLPRatio) < 1:
					key = "ijepago.encoder.mlp_ratio"
				}
				return bad(key, "%s", err.Error())
			}
			return nil
		},
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}
