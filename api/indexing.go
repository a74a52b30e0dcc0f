package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/iotcore-local/iotcore-local/index"
)

// This file gives fleet indexing (package index) its wire: the indexing configuration,
// ListIndices/DescribeIndex, SearchIndex and the aggregations.

// indexError maps the index package's errors to AWS exceptions.
func indexError(err error) error {
	for _, k := range []struct {
		kind   error
		status int
	}{
		{index.ErrInvalidQuery, http.StatusBadRequest},
		{index.ErrInvalidAggregation, http.StatusBadRequest},
		{index.ErrInvalidRequest, http.StatusBadRequest},
		{index.ErrNotFound, http.StatusNotFound},
	} {
		if errors.Is(err, k.kind) {
			return &apiError{status: k.status, name: k.kind.Error(), message: err.Error(), cause: err}
		}
	}
	return err
}

// addIndexingRoutes adds the fleet indexing operations when there is an index.
func (s *server) addIndexingRoutes(rt *router) {
	if s.cfg.Index == nil {
		return
	}
	rt.add(http.MethodGet, "/indexing/config", "GetIndexingConfiguration", s.getIndexingConfiguration)
	rt.add(http.MethodPost, "/indexing/config", "UpdateIndexingConfiguration", s.updateIndexingConfiguration)
	rt.add(http.MethodGet, "/indices", "ListIndices", s.listIndices)
	rt.add(http.MethodPost, "/indices/search", "SearchIndex", s.searchIndex)
	rt.add(http.MethodPost, "/indices/statistics", "GetStatistics", s.getStatistics)
	rt.add(http.MethodPost, "/indices/cardinality", "GetCardinality", s.getCardinality)
	rt.add(http.MethodPost, "/indices/percentiles", "GetPercentiles", s.getPercentiles)
	rt.add(http.MethodPost, "/indices/buckets", "GetBucketsAggregation", s.getBucketsAggregation)
	rt.add(http.MethodGet, "/indices/{indexName}", "DescribeIndex", s.describeIndex)
}

// getIndexingConfiguration is GetIndexingConfiguration: GET /indexing/config.
func (s *server) getIndexingConfiguration(c *call) (any, error) {
	return s.cfg.Index.Configuration(), nil
}

// updateIndexingConfigurationRequest is UpdateIndexingConfiguration's body: either member may
// be absent, and then keeps its current value.
type updateIndexingConfigurationRequest struct {
	Thing *index.ThingIndexingConfiguration      `json:"thingIndexingConfiguration"`
	Group *index.ThingGroupIndexingConfiguration `json:"thingGroupIndexingConfiguration"`
}

// updateIndexingConfiguration is UpdateIndexingConfiguration: POST /indexing/config.
func (s *server) updateIndexingConfiguration(c *call) (any, error) {
	var in updateIndexingConfigurationRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	cfg := s.cfg.Index.Configuration()
	if in.Thing != nil {
		cfg.Thing = *in.Thing
	}
	if in.Group != nil {
		cfg.Group = *in.Group
	}
	if err := s.cfg.Index.UpdateConfiguration(cfg); err != nil {
		return nil, indexError(fmt.Errorf("update indexing configuration: %w", err))
	}
	return empty{}, nil
}

type listIndicesResponse struct {
	IndexNames []string `json:"indexNames"`
}

// listIndices is ListIndices: the indexes that are on.
func (s *server) listIndices(c *call) (any, error) {
	cfg := s.cfg.Index.Configuration()
	out := listIndicesResponse{IndexNames: []string{}}
	if cfg.Thing.ThingIndexingMode != index.ModeOff {
		out.IndexNames = append(out.IndexNames, index.ThingsIndex)
	}
	if cfg.Group.ThingGroupIndexingMode == index.ModeOn {
		out.IndexNames = append(out.IndexNames, index.GroupsIndex)
	}
	return out, nil
}

type describeIndexResponse struct {
	IndexName   string `json:"indexName"`
	IndexStatus string `json:"indexStatus"`
	Schema      string `json:"schema"`
}

// describeIndex is DescribeIndex: GET /indices/{indexName}. The emulator builds its index at
// once, so an index that exists is ACTIVE.
func (s *server) describeIndex(c *call) (any, error) {
	name := c.vars["indexName"]
	cfg := s.cfg.Index.Configuration()
	switch {
	case name == index.ThingsIndex && cfg.Thing.ThingIndexingMode != index.ModeOff:
		t := cfg.Thing
		schema := t.ThingIndexingMode
		if t.ThingConnectivityIndexingMode == index.ModeStatus {
			schema += "_AND_CONNECTIVITY"
			if t.ThingIndexingMode == index.ModeRegistryAndShadow {
				schema += "_STATUS"
			}
		}
		if t.NamedShadowIndexingMode == index.ModeOn || t.DeviceDefenderIndexingMode != index.ModeOff {
			schema = "MULTI_INDEXING_MODE"
		}
		return describeIndexResponse{IndexName: name, IndexStatus: "ACTIVE", Schema: schema}, nil
	case name == index.GroupsIndex && cfg.Group.ThingGroupIndexingMode == index.ModeOn:
		return describeIndexResponse{IndexName: name, IndexStatus: "ACTIVE", Schema: "THING_GROUPS"}, nil
	}
	return nil, notFound("Index %s does not exist", name)
}

type searchIndexRequest struct {
	IndexName    string  `json:"indexName"`
	QueryString  *string `json:"queryString"`
	NextToken    string  `json:"nextToken"`
	MaxResults   int     `json:"maxResults"`
	QueryVersion string  `json:"queryVersion"`
}

type searchIndexResponse struct {
	Things      []index.ThingDocument      `json:"things,omitempty"`
	ThingGroups []index.ThingGroupDocument `json:"thingGroups,omitempty"`
	NextToken   string                     `json:"nextToken,omitempty"`
}

// searchIndex is SearchIndex: POST /indices/search.
func (s *server) searchIndex(c *call) (any, error) {
	var in searchIndexRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.QueryString == nil {
		return nil, invalidRequest("queryString: required")
	}
	res, err := s.cfg.Index.Search(in.IndexName, *in.QueryString, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, indexError(fmt.Errorf("search index: %w", err))
	}
	out := searchIndexResponse{Things: res.Things, ThingGroups: res.ThingGroups, NextToken: res.NextToken}
	if in.IndexName == index.GroupsIndex && out.ThingGroups == nil {
		out.ThingGroups = []index.ThingGroupDocument{}
	}
	if in.IndexName != index.GroupsIndex && out.Things == nil {
		out.Things = []index.ThingDocument{}
	}
	return out, nil
}

// aggregationRequest is the body of the aggregation operations.
type aggregationRequest struct {
	IndexName              string    `json:"indexName"`
	QueryString            *string   `json:"queryString"`
	AggregationField       string    `json:"aggregationField"`
	QueryVersion           string    `json:"queryVersion"`
	Percents               []float64 `json:"percents"`
	BucketsAggregationType *struct {
		TermsAggregation *struct {
			MaxBuckets int `json:"maxBuckets"`
		} `json:"termsAggregation"`
	} `json:"bucketsAggregationType"`
}

func decodeAggregation(c *call) (aggregationRequest, error) {
	var in aggregationRequest
	if err := decodeBody(c.r, &in); err != nil {
		return in, err
	}
	if in.QueryString == nil {
		return in, invalidRequest("queryString: required")
	}
	return in, nil
}

type statisticsResponse struct {
	Statistics index.Statistics `json:"statistics"`
}

// getStatistics is GetStatistics: POST /indices/statistics.
func (s *server) getStatistics(c *call) (any, error) {
	in, err := decodeAggregation(c)
	if err != nil {
		return nil, err
	}
	st, err := s.cfg.Index.GetStatistics(in.IndexName, *in.QueryString, in.AggregationField)
	if err != nil {
		return nil, indexError(fmt.Errorf("get statistics: %w", err))
	}
	return statisticsResponse{Statistics: st}, nil
}

type cardinalityResponse struct {
	Cardinality int `json:"cardinality"`
}

// getCardinality is GetCardinality: POST /indices/cardinality.
func (s *server) getCardinality(c *call) (any, error) {
	in, err := decodeAggregation(c)
	if err != nil {
		return nil, err
	}
	n, err := s.cfg.Index.GetCardinality(in.IndexName, *in.QueryString, in.AggregationField)
	if err != nil {
		return nil, indexError(fmt.Errorf("get cardinality: %w", err))
	}
	return cardinalityResponse{Cardinality: n}, nil
}

type percentilesResponse struct {
	Percentiles []index.Percentile `json:"percentiles"`
}

// getPercentiles is GetPercentiles: POST /indices/percentiles.
func (s *server) getPercentiles(c *call) (any, error) {
	in, err := decodeAggregation(c)
	if err != nil {
		return nil, err
	}
	ps, err := s.cfg.Index.GetPercentiles(in.IndexName, *in.QueryString, in.AggregationField, in.Percents)
	if err != nil {
		return nil, indexError(fmt.Errorf("get percentiles: %w", err))
	}
	return percentilesResponse{Percentiles: ps}, nil
}

type bucketsResponse struct {
	TotalCount int            `json:"totalCount"`
	Buckets    []index.Bucket `json:"buckets"`
}

// getBucketsAggregation is GetBucketsAggregation: POST /indices/buckets.
func (s *server) getBucketsAggregation(c *call) (any, error) {
	in, err := decodeAggregation(c)
	if err != nil {
		return nil, err
	}
	if in.AggregationField == "" {
		return nil, invalidRequest("aggregationField: required")
	}
	if in.BucketsAggregationType == nil || in.BucketsAggregationType.TermsAggregation == nil {
		return nil, invalidRequest("bucketsAggregationType.termsAggregation: required")
	}
	bs, total, err := s.cfg.Index.GetBuckets(in.IndexName, *in.QueryString, in.AggregationField, in.BucketsAggregationType.TermsAggregation.MaxBuckets)
	if err != nil {
		return nil, indexError(fmt.Errorf("get buckets: %w", err))
	}
	return bucketsResponse{TotalCount: total, Buckets: bs}, nil
}
