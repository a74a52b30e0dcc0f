package bench

import (
	"math"
	"math/bits"
	"time"
)

// subBucketBits sets the histogram's precision: every power-of-two range of values is split into
// 2^(subBucketBits-1) equal buckets, so a recorded value is known to within 1/64 (1.6 %) of
// itself, and values below 2^subBucketBits are kept exactly.
const subBucketBits = 7

const (
	subBucketCount = 1 << subBucketBits
	subBucketHalf  = subBucketCount / 2
)

// Histogram counts non-negative values (durations in nanoseconds, here) in logarithmic buckets,
// the way HdrHistogram does: constant memory per order of magnitude, a bounded relative error,
// and cheap Record and Merge. It gives percentiles without keeping every sample, which a load
// generator recording millions of latencies cannot afford. The zero value is ready to use; a
// Histogram is not safe for concurrent use — give each goroutine its own and Merge them.
type Histogram struct {
	counts []uint64 // grown on demand up to the highest bucket seen
	total  uint64
	sum    float64
	min    int64
	max    int64
}

// bucketOf returns the bucket index of v ≥ 0.
func bucketOf(v int64) int {
	u := uint64(v)
	shift := bits.Len64(u) - subBucketBits
	if shift < 0 {
		shift = 0
	}
	return shift*subBucketHalf + int(u>>uint(shift))
}

// bucketRange returns the smallest and largest value that land in bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < subBucketCount {
		return int64(i), int64(i)
	}
	shift := i/subBucketHalf - 1
	mantissa := i - shift*subBucketHalf
	lo = int64(mantissa) << uint(shift)
	hi = lo + int64(1)<<uint(shift) - 1
	return lo, hi
}

// Record adds one value; negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	i := bucketOf(v)
	if i >= len(h.counts) {
		grown := make([]uint64, i+1+subBucketHalf)
		copy(grown, h.counts)
		h.counts = grown
	}
	h.counts[i]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += float64(v)
}

// RecordDuration adds a duration in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Merge adds every value counted by o.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.total == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		grown := make([]uint64, len(o.counts))
		copy(grown, h.counts)
		h.counts = grown
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Min is the smallest value recorded (exact), 0 when empty.
func (h *Histogram) Min() int64 { return h.min }

// Max is the largest value recorded (exact), 0 when empty.
func (h *Histogram) Max() int64 { return h.max }

// Mean is the arithmetic mean (exact up to float rounding), 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return h.sum / float64(h.total)
}

// Percentile returns the value below or at which p percent of the recorded values lie (the
// nearest-rank definition), as the midpoint of its bucket clamped to the exact min and max. It
// is exact for values below 128 and within 1.6 % above. p is clamped to [0, 100]; an empty
// histogram gives 0.
func (h *Histogram) Percentile(p float64) int64 {
	if h.total == 0 {
		return 0
	}
	if p <= 0 {
		return h.min
	}
	if p >= 100 {
		return h.max
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// Latency is a summary of a latency histogram in milliseconds, for tables and JSON.
type Latency struct {
	Count  uint64  `json:"count"`
	MinMs  float64 `json:"min_ms"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summary summarises a histogram of nanosecond durations.
func (h *Histogram) Summary() Latency {
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return Latency{
		Count:  h.total,
		MinMs:  ms(h.min),
		MeanMs: h.Mean() / 1e6,
		P50Ms:  ms(h.Percentile(50)),
		P90Ms:  ms(h.Percentile(90)),
		P99Ms:  ms(h.Percentile(99)),
		MaxMs:  ms(h.max),
	}
}
