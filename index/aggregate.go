package index

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Statistics is GetStatistics's answer. For a String field only Count is set.
type Statistics struct {
	Count        int      `json:"count"`
	Average      *float64 `json:"average,omitempty"`
	Sum          *float64 `json:"sum,omitempty"`
	Minimum      *float64 `json:"minimum,omitempty"`
	Maximum      *float64 `json:"maximum,omitempty"`
	SumOfSquares *float64 `json:"sumOfSquares,omitempty"`
	Variance     *float64 `json:"variance,omitempty"`
	StdDeviation *float64 `json:"stdDeviation,omitempty"`
}

// Percentile is one entry of GetPercentiles's answer.
type Percentile struct {
	Percent float64 `json:"percent"`
	Value   float64 `json:"value"`
}

// Bucket is one entry of GetBucketsAggregation's answer.
type Bucket struct {
	KeyValue string `json:"keyValue"`
	Count    int    `json:"count"`
}

// Limits of the aggregations.
const (
	maxPercents       = 100
	defaultMaxBuckets = 10
	maxBuckets        = 10000
)

// defaultPercents are the percentiles GetPercentiles computes when none are asked for.
var defaultPercents = []float64{1, 5, 25, 50, 75, 95, 99}

// fieldType returns the type of an aggregation field: a managed field or a configured custom
// field. Anything else is an InvalidAggregationException, as on AWS. Called with mu held.
func (x *Index) fieldType(field string) (string, error) {
	if field == "" {
		return "", fmt.Errorf("%w: aggregationField: required", ErrInvalidAggregation)
	}
	t := x.cfg.Thing
	for _, fs := range [][]Field{t.ManagedFields, t.CustomFields} {
		for _, f := range fs {
			if f.Name == field || (strings.Contains(f.Name, "*") && glob([]rune(strings.ReplaceAll(f.Name, "*", string(wildStar))), field)) {
				return f.Type, nil
			}
		}
	}
	return "", fmt.Errorf("%w: aggregationField %q is neither a managed field nor a custom field of the indexing configuration", ErrInvalidAggregation, field)
}

// aggregationInput checks an aggregation's index, parses its query and types its field; it
// returns the values of the field in the matching things. Called with mu held.
func (x *Index) aggregate(indexName, query, field string) (typ string, vals []value, matched int, err error) {
	if indexName != "" && indexName != ThingsIndex {
		return "", nil, 0, fmt.Errorf("%w: aggregations are served on %s only, not %s", ErrNotFound, ThingsIndex, indexName)
	}
	if err := x.thingsReady(); err != nil {
		return "", nil, 0, err
	}
	n, err := parseQuery(query)
	if err != nil {
		return "", nil, 0, err
	}
	if typ, err = x.fieldType(field); err != nil {
		return "", nil, 0, err
	}
	for _, d := range x.docs {
		if !matches(n, d.fields) {
			continue
		}
		matched++
		for _, v := range d.fields[field] {
			switch {
			case typ == "Number" && v.num, typ == "Boolean" && v.bool, typ == "String" && !v.num && !v.bool:
				vals = append(vals, v)
			}
		}
	}
	return typ, vals, matched, nil
}

// GetStatistics is GetStatistics: count, and for Number and Boolean fields the numeric
// statistics (a Boolean counts as 0 or 1).
func (x *Index) GetStatistics(indexName, query, field string) (Statistics, error) {
	x.freshen()
	x.mu.RLock()
	defer x.mu.RUnlock()
	if field == "" {
		field = "thingName" // AWS's default aggregation field is the thing name (count only)
	}
	typ, vals, _, err := x.aggregate(indexName, query, field)
	if err != nil {
		return Statistics{}, err
	}
	s := Statistics{Count: len(vals)}
	if typ == "String" || len(vals) == 0 {
		return s, nil
	}
	sum, sq, lo, hi := 0.0, 0.0, math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		sum += v.n
		sq += v.n * v.n
		lo, hi = math.Min(lo, v.n), math.Max(hi, v.n)
	}
	n := float64(len(vals))
	avg := sum / n
	variance := sq/n - avg*avg
	if variance < 0 {
		variance = 0
	}
	std := math.Sqrt(variance)
	s.Average, s.Sum, s.Minimum, s.Maximum, s.SumOfSquares, s.Variance, s.StdDeviation = &avg, &sum, &lo, &hi, &sq, &variance, &std
	return s, nil
}

// GetCardinality is GetCardinality: the number of distinct values of the field in the
// matching things.
func (x *Index) GetCardinality(indexName, query, field string) (int, error) {
	x.freshen()
	x.mu.RLock()
	defer x.mu.RUnlock()
	if field == "" {
		field = "thingName"
	}
	_, vals, _, err := x.aggregate(indexName, query, field)
	if err != nil {
		return 0, err
	}
	seen := map[string]struct{}{}
	for _, v := range vals {
		seen[v.s] = struct{}{}
	}
	return len(seen), nil
}

// GetPercentiles is GetPercentiles on a Number field: for each percent, the value below which
// that share of the values lie (linear interpolation between closest ranks).
func (x *Index) GetPercentiles(indexName, query, field string, percents []float64) ([]Percentile, error) {
	if len(percents) > maxPercents {
		return nil, fmt.Errorf("%w: percents: at most %d", ErrInvalidRequest, maxPercents)
	}
	for i, p := range percents {
		if p < 0 || p > 100 || math.IsNaN(p) {
			return nil, fmt.Errorf("%w: percents[%d]: %v is not between 0 and 100", ErrInvalidRequest, i, p)
		}
	}
	if len(percents) == 0 {
		percents = defaultPercents
	}
	x.freshen()
	x.mu.RLock()
	defer x.mu.RUnlock()
	typ, vals, _, err := x.aggregate(indexName, query, field)
	if err != nil {
		return nil, err
	}
	if typ != "Number" {
		return nil, fmt.Errorf("%w: aggregationField %q is a %s field; percentiles need a Number field", ErrInvalidAggregation, field, typ)
	}
	out := []Percentile{}
	if len(vals) == 0 {
		return out, nil
	}
	nums := make([]float64, len(vals))
	for i, v := range vals {
		nums[i] = v.n
	}
	sort.Float64s(nums)
	for _, p := range percents {
		rank := p / 100 * float64(len(nums)-1)
		lo := int(math.Floor(rank))
		hi := int(math.Ceil(rank))
		v := nums[lo] + (nums[hi]-nums[lo])*(rank-float64(lo))
		out = append(out, Percentile{Percent: p, Value: v})
	}
	return out, nil
}

// GetBuckets is GetBucketsAggregation with a terms aggregation: the most frequent values of the
// field (by count, then value) and the number of matching things.
func (x *Index) GetBuckets(indexName, query, field string, max int) ([]Bucket, int, error) {
	if max == 0 {
		max = defaultMaxBuckets
	}
	if max < 1 || max > maxBuckets {
		return nil, 0, fmt.Errorf("%w: bucketsAggregationType.termsAggregation.maxBuckets: must be between 1 and %d", ErrInvalidRequest, maxBuckets)
	}
	x.freshen()
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, vals, matched, err := x.aggregate(indexName, query, field)
	if err != nil {
		return nil, 0, err
	}
	counts := map[string]int{}
	for _, v := range vals {
		counts[v.raw]++
	}
	out := make([]Bucket, 0, len(counts))
	for k, c := range counts {
		out = append(out, Bucket{KeyValue: k, Count: c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].KeyValue < out[j].KeyValue
	})
	if len(out) > max {
		out = out[:max]
	}
	return out, matched, nil
}
