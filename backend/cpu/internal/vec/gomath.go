package vec

import "math"

// The Go implementation: float32 elementary functions small enough for the
// compiler to inline into the kernels' loops (a call per element would cost
// more than the arithmetic), and the kernels built on them. gomath_test.go
// checks each function's accuracy against package math over the whole range
// the kernels use.

const (
	log2e = 1.44269504088896340736 // 1/ln 2
	// ln2Hi + ln2Lo = ln 2, with ln2Hi exact in few bits so that k*ln2Hi is
	// exact for the k that occur (Cody and Waite's reduction).
	ln2Hi = 0.693359375
	ln2Lo = -2.12194440e-4
	// roundMagic is 1.5*2^23: adding it to a float32 of magnitude below 2^22
	// rounds it to an integer.
	roundMagic = 12582912
	// expMin is the smallest x whose e^x is a normal float32; expCoreMax
	// the largest that expCore takes (127.5*ln 2); expMax the largest x
	// whose e^x is finite.
	expMin     = -87.33654
	expCoreMax = 88.37626
	expMax     = 88.72283
)

// expCore returns e^x within 2 ulp for x in [expMin, expCoreMax]; outside
// that range (and for NaN) the result is meaningless, so callers check
// first.
func expCore(x float32) float32 {
	// x = k*ln2 + r with |r| <= ln2/2. The explicit float32 conversions
	// round each step, so no fused multiply-add can change k.
	k := float32(float32(x*log2e)+roundMagic) - roundMagic
	r := float32(x-k*ln2Hi) - k*ln2Lo
	// e^r by its Taylor series to r^7 (truncation below 5e-9 relative).
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	// 2^k, built from its exponent bits; k+127 is in [1,254].
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

// exp32 returns e^x within 2 ulp, 0 where e^x is below the smallest normal
// float32, +Inf where it overflows, and NaN for NaN.
func exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x < expMin:
		return 0
	case x > expMax:
		return float32(math.Inf(1))
	case x > expCoreMax:
		return float32(math.Exp(float64(x))) // 2^128 > e^x > 2^127.5
	}
	return expCore(x)
}

// The normal distribution function Phi and the derivative of GELU are read
// from tables of cubic polynomials, one per interval of width 1/tabScale on
// [-tabRange, tabRange): cubic Hermite interpolation of the function's values
// and derivatives at the interval's ends, computed in float64. The error of
// the interpolation is below 1e-9 absolute; the float32 evaluation adds about
// one rounding of the result. Outside the range both functions are 0 or 1 to
// float32 precision (Phi(-10) is 7.6e-24).
const (
	tabScale = 32
	tabRange = 10
	tabN     = 2 * tabRange * tabScale // intervals
)

// cdfTab holds Phi; geluGradTab holds d/dx gelu(x) = Phi(x) + x*phi(x).
// Interval i, on [x_i, x_i + 1/tabScale) with x_i = i/tabScale - tabRange,
// has the polynomial c0 + u*(c1 + u*(c2 + u*c3)) in u = (x - x_i)*tabScale,
// stored at [4i, 4i+4). One extra interval at the end takes the rounding of
// the index at the top of the range.
var cdfTab, geluGradTab = hermiteTables()

func hermiteTables() (cdf, grad *[4 * (tabN + 1)]float32) {
	phi := func(x float64) float64 { return math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) }
	Phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	fill := func(f, df func(float64) float64) *[4 * (tabN + 1)]float32 {
		var t [4 * (tabN + 1)]float32
		h := 1.0 / tabScale
		for i := 0; i <= tabN; i++ {
			x0 := float64(i)/tabScale - tabRange
			p0, p1 := f(x0), f(x0+h)
			m0, m1 := h*df(x0), h*df(x0+h)
			t[4*i] = float32(p0)
			t[4*i+1] = float32(m0)
			t[4*i+2] = float32(3*(p1-p0) - 2*m0 - m1)
			t[4*i+3] = float32(2*(p0-p1) + m0 + m1)
		}
		return &t
	}
	cdf = fill(Phi, phi)
	grad = fill(func(x float64) float64 { return Phi(x) + x*phi(x) },
		func(x float64) float64 { return phi(x) * (2 - x*x) })
	return cdf, grad
}

// tabEval evaluates a table at x in [-tabRange, tabRange).
func tabEval(t *[4 * (tabN + 1)]float32, x float32) float32 {
	s := x * tabScale // exact: a power-of-two scale
	// i is the interval; the float32 sum may round up to the next
	// integer, which leaves u a hair below 0, harmlessly.
	i := int32(s + tabRange*tabScale)
	u := s - float32(i-tabRange*tabScale) // exact
	c := t[4*i : 4*i+4 : 4*i+4]
	return c[0] + u*(c[1]+u*(c[2]+u*c[3]))
}

// tabOut returns a table's function outside [-tabRange, tabRange): low below
// the range, high above, NaN for NaN.
func tabOut(x, low, high float32) float32 {
	switch {
	case x != x:
		return x
	case x < 0:
		return low
	}
	return high
}

// gelu32 returns x*Phi(x), the exact GELU.
func gelu32(x float32) float32 {
	if !(x >= -tabRange && x < tabRange) {
		return x * tabOut(x, 0, 1)
	}
	return x * tabEval(cdfTab, x)
}

// geluGrad32 returns Phi(x) + x*phi(x), the derivative of GELU.
func geluGrad32(x float32) float32 {
	if !(x >= -tabRange && x < tabRange) {
		return tabOut(x, 0, 1)
	}
	return tabEval(geluGradTab, x)
}

func geluGo(y, x []float32) {
	y = y[:len(x)]
	for i, v := range x {
		if v >= -tabRange && v < tabRange {
			y[i] = v * tabEval(cdfTab, v)
		} else {
			y[i] = v * tabOut(v, 0, 1)
		}
	}
}

func geluGradGo(dx, dy, x []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		if v >= -tabRange && v < tabRange {
			dx[i] = dy[i] * tabEval(geluGradTab, v)
		} else {
			dx[i] = dy[i] * tabOut(v, 0, 1)
		}
	}
}

// softmaxGo computes each row's exponentials once, keeping them in y, and
// scales them by the reciprocal of their sum.
func softmaxGo(y, x []float32, cols int, alpha float32) {
	for r := 0; r < len(x)/cols; r++ {
		xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		yr = yr[:len(xr)]
		m := float32(math.Inf(-1))
		nan := false
		for _, v := range xr {
			a := alpha * v
			if a > m {
				m = a
			}
			nan = nan || a != a
		}
		if nan || math.IsInf(float64(m), 0) {
			SoftmaxRow64(yr, xr, float64(alpha))
			continue
		}
		var s float64
		for j, v := range xr {
			t := alpha*v - m
			e := float32(0)
			if t >= expMin {
				e = expCore(t)
			}
			yr[j] = e
			s += float64(e)
		}
		inv := float32(1 / s)
		for j := range yr {
			yr[j] *= inv
		}
	}
}

// SoftmaxRow64 computes one row of softmax(alpha*x) in float64: the
// reference backend's kernel, and the fast kernel's path for rows with NaN
// or infinite values (the IEEE answer).
func SoftmaxRow64(yr, xr []float32, alpha float64) {
	m := math.Inf(-1)
	for _, v := range xr {
		m = math.Max(m, alpha*float64(v))
	}
	var s float64
	for _, v := range xr {
		s += math.Exp(alpha*float64(v) - m)
	}
	for j, v := range xr {
		yr[j] = float32(math.Exp(alpha*float64(v)-m) / s)
	}
}

// sum4 returns the sum of v with four partial sums (faster, and more
// accurate than one running sum).
func sum4(v []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		w := v[i : i+4 : i+4]
		s0 += w[0]
		s1 += w[1]
		s2 += w[2]
		s3 += w[3]
	}
	for ; i < len(v); i++ {
		s0 += v[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDev4 returns the sum of (v-mu)^2 with four partial sums.
func sqDev4(v []float32, mu float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		w := v[i : i+4 : i+4]
		d0, d1, d2, d3 := w[0]-mu, w[1]-mu, w[2]-mu, w[3]-mu
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(v); i++ {
		d := v[i] - mu
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func layerNormGo(y, mean, rstd, x, gamma, beta []float32, cols int, eps float64) {
	for r := 0; r < len(x)/cols; r++ {
		xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		yr = yr[:len(xr)]
		mu := sum4(xr) / float32(cols)
		rs := float32(1 / math.Sqrt(float64(sqDev4(xr, mu))/float64(cols)+eps))
		mean[r], rstd[r] = mu, rs
		if len(gamma) == 0 {
			for j, v := range xr {
				yr[j] = (v - mu) * rs
			}
			continue
		}
		g, bt := gamma[:len(xr)], beta[:len(xr)]
		for j, v := range xr {
			yr[j] = (v-mu)*rs*g[j] + bt[j]
		}
	}
}

func layerNormBwdGo(dx []float32, dg, db []float64, dy, x, mean, rstd, gamma []float32, cols int) {
	inv := 1 / float32(cols)
	params := len(dg) > 0
	for r := 0; r < len(x)/cols; r++ {
		xr, dyr, dxr := x[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		dyr, dxr = dyr[:len(xr)], dxr[:len(xr)]
		mu, rs := mean[r], rstd[r]
		var sg, sgx float32
		for j, v := range xr {
			h := (v - mu) * rs
			g := dyr[j]
			if len(gamma) > 0 {
				g *= gamma[j]
			}
			sg += g
			sgx += g * h
		}
		sg *= inv
		sgx *= inv
		if params {
			pg, pb := dg[:len(xr)], db[:len(xr)]
			for j, v := range xr {
				pg[j] += float64(dyr[j] * (v - mu) * rs)
				pb[j] += float64(dyr[j])
			}
		}
		for j, v := range xr {
			h := (v - mu) * rs
			g := dyr[j]
			if len(gamma) > 0 {
				g *= gamma[j]
			}
			dxr[j] = rs * (g - sg - h*sgx)
		}
	}
}

func colSumGo(acc []float64, x []float32, cols int) {
	acc = acc[:cols]
	for r := 0; r < len(x)/cols; r++ {
		xr := x[r*cols : (r+1)*cols]
		xr = xr[:len(acc)]
		for j, v := range xr {
			acc[j] += float64(v)
		}
	}
}

func adamWGo(p, m, v, g []float32, s *AdamWScalars) {
	m, v, g = m[:len(p)], v[:len(p)], g[:len(p)]
	for i := range p {
		mi := s.Beta1*m[i] + s.OneMinusB1*g[i]
		vi := s.Beta2*v[i] + s.OneMinusB2*g[i]*g[i]
		m[i], v[i] = mi, vi
		p[i] = p[i]*s.Decay - s.StepSize*mi/(float32(math.Sqrt(float64(vi)))/s.BC2Sqrt+s.Eps)
	}
}

func broadcastGo(y, a, x []float32, mul bool) {
	nx := len(x)
	for r := 0; r < len(a)/nx; r++ {
		ys, as := y[r*nx:(r+1)*nx], a[r*nx:(r+1)*nx]
		xs := x[:len(ys)]
		if mul {
			for i := range ys {
				ys[i] = as[i] * xs[i]
			}
		} else {
			for i := range ys {
				ys[i] = as[i] + xs[i]
			}
		}
	}
}
