package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramExactBelow128(t *testing.T) {
	var h Histogram
	for v := int64(1); v <= 100; v++ {
		h.Record(v)
	}
	for _, tc := range []struct {
		p    float64
		want int64
	}{{0, 1}, {1, 1}, {50, 50}, {90, 90}, {99, 99}, {99.5, 100}, {100, 100}} {
		if got := h.Percentile(tc.p); got != tc.want {
			t.Errorf("p%v = %d, want %d", tc.p, got, tc.want)
		}
	}
	if h.Count() != 100 || h.Min() != 1 || h.Max() != 100 || h.Mean() != 50.5 {
		t.Errorf("count %d min %d max %d mean %v", h.Count(), h.Min(), h.Max(), h.Mean())
	}
}

// TestHistogramRelativeError compares percentiles of random latencies spread over six orders of
// magnitude with the exact nearest-rank values.
func TestHistogramRelativeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]int64, 100000)
	for i := range vals {
		vals[i] = int64(math.Exp(rng.Float64() * math.Log(1e9))) // 1 ns … 1 s, log-uniform
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, p := range []float64{1, 10, 50, 90, 99, 99.9} {
		exact := vals[int(math.Ceil(p/100*float64(len(vals))))-1]
		got := h.Percentile(p)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 1.0/64 {
			t.Errorf("p%v = %d, exact %d: relative error %.4f > 1/64", p, got, exact, rel)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
		t.Errorf("min/max %d/%d, want exact %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
}

func TestHistogramBucketsAreContiguous(t *testing.T) {
	prevHi := int64(-1)
	for i := 0; i < 40*subBucketHalf; i++ {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d, %d], previous ended at %d", i, lo, hi, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d = [%d, %d] but bucketOf gives %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		prevHi = hi
	}
	if i := bucketOf(math.MaxInt64); i < 0 {
		t.Fatalf("bucketOf(MaxInt64) = %d", i)
	}
}

func TestHistogramMergeAndSummary(t *testing.T) {
	var a, b, both Histogram
	for v := int64(0); v < 5000; v++ {
		d := v * int64(time.Microsecond)
		if v%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
		both.Record(d)
	}
	a.Merge(&b)
	a.Merge(nil)
	a.Merge(&Histogram{})
	for _, p := range []float64{50, 99} {
		if a.Percentile(p) != both.Percentile(p) {
			t.Errorf("merged p%v = %d, recorded together %d", p, a.Percentile(p), both.Percentile(p))
		}
	}
	s := a.Summary()
	if s.Count != 5000 || s.MaxMs != 4.999 || s.MinMs != 0 {
		t.Errorf("summary %+v", s)
	}
	if math.Abs(s.P50Ms-2.5) > 2.5/64 || math.Abs(s.P99Ms-4.95) > 4.95/64 {
		t.Errorf("summary p50 %v p99 %v, want about 2.5 and 4.95", s.P50Ms, s.P99Ms)
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Percentile(50) != 0 || h.Mean() != 0 || h.Summary().Count != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	h.Record(-5)
	if h.Min() != 0 || h.Max() != 0 || h.Count() != 1 {
		t.Fatalf("negative value should count as 0: min %d max %d count %d", h.Min(), h.Max(), h.Count())
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(int64(i&0xfffff) * 997)
	}
}
