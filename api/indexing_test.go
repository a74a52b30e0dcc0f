package api_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/index"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// indexEnv is an API server with a shadow service and fleet indexing over its registry.
func indexEnv(t *testing.T) (*env, *index.Index, *shadow.Service) {
	t.Helper()
	var x *index.Index
	svc, err := shadow.Open(filepath.Join(t.TempDir(), "shadows.db"), shadow.Options{NoSync: true,
		OnChange: func(k shadow.Key) { x.ShadowChanged(k) }})
	must(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	e := newEnv(t, func(c *api.Config) {
		c.Shadows = svc
		var err error
		x, err = index.New(index.Options{Registry: c.Registry, Shadows: svc})
		must(t, err)
		t.Cleanup(func() { _ = x.Close() })
		c.Index = x
	})
	return e, x, svc
}

func TestIndexingConfiguration(t *testing.T) {
	e, _, _ := indexEnv(t)
	g, err := e.iot.GetIndexingConfiguration(e.ctx, &iot.GetIndexingConfigurationInput{})
	must(t, err)
	if g.ThingIndexingConfiguration.ThingIndexingMode != types.ThingIndexingModeOff ||
		g.ThingGroupIndexingConfiguration.ThingGroupIndexingMode != types.ThingGroupIndexingModeOff {
		t.Fatalf("default %+v %+v", g.ThingIndexingConfiguration, g.ThingGroupIndexingConfiguration)
	}
	// Terraform sends every mode, OFF included, and expects them back with the managed fields.
	_, err = e.iot.UpdateIndexingConfiguration(e.ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
			ThingIndexingMode:             types.ThingIndexingModeRegistryAndShadow,
			ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus,
			DeviceDefenderIndexingMode:    types.DeviceDefenderIndexingModeOff,
			NamedShadowIndexingMode:       types.NamedShadowIndexingModeOn,
			CustomFields:                  []types.Field{{Name: aws.String("shadow.reported.temp"), Type: types.FieldTypeNumber}},
			Filter:                        &types.IndexingFilter{NamedShadowNames: []string{"cfg"}},
		},
		ThingGroupIndexingConfiguration: &types.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: types.ThingGroupIndexingModeOn},
	})
	must(t, err)
	g, err = e.iot.GetIndexingConfiguration(e.ctx, &iot.GetIndexingConfigurationInput{})
	must(t, err)
	tc := g.ThingIndexingConfiguration
	if tc.ThingIndexingMode != types.ThingIndexingModeRegistryAndShadow || tc.DeviceDefenderIndexingMode != types.DeviceDefenderIndexingModeOff ||
		tc.NamedShadowIndexingMode != types.NamedShadowIndexingModeOn || tc.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus ||
		len(tc.CustomFields) != 1 || tc.Filter == nil || !slices.Equal(tc.Filter.NamedShadowNames, []string{"cfg"}) {
		t.Fatalf("configuration %+v", tc)
	}
	var managed []string
	for _, f := range tc.ManagedFields {
		managed = append(managed, aws.ToString(f.Name))
	}
	for _, want := range []string{"thingName", "shadow.version", "shadow.name.*.hasDelta", "connectivity.connected"} {
		if !slices.Contains(managed, want) {
			t.Errorf("managed fields %v lack %s", managed, want)
		}
	}
	idx, err := e.iot.ListIndices(e.ctx, &iot.ListIndicesInput{})
	must(t, err)
	if !slices.Equal(idx.IndexNames, []string{"AWS_Things", "AWS_ThingGroups"}) {
		t.Fatalf("indices %v", idx.IndexNames)
	}
	di, err := e.iot.DescribeIndex(e.ctx, &iot.DescribeIndexInput{IndexName: aws.String("AWS_Things")})
	must(t, err)
	if di.IndexStatus != types.IndexStatusActive || aws.ToString(di.Schema) != "MULTI_INDEXING_MODE" {
		t.Fatalf("describe index %+v", di)
	}

	bad := []*types.ThingIndexingConfiguration{
		{ThingIndexingMode: "SOMETIMES"},
		{ThingIndexingMode: types.ThingIndexingModeOff, ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus},
		{ThingIndexingMode: types.ThingIndexingModeRegistry, CustomFields: []types.Field{{Name: aws.String("shadow.desired.x"), Type: types.FieldTypeNumber}}},
		{ThingIndexingMode: types.ThingIndexingModeRegistry, CustomFields: []types.Field{{Name: aws.String("colour"), Type: types.FieldTypeString}}},
		{ThingIndexingMode: types.ThingIndexingModeRegistry, Filter: &types.IndexingFilter{NamedShadowNames: []string{"a b"}}},
	}
	for _, c := range bad {
		_, err := e.iot.UpdateIndexingConfiguration(e.ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: c})
		wantErr[*types.InvalidRequestException](t, err, 400)
	}
	// A refused update changed nothing.
	g, err = e.iot.GetIndexingConfiguration(e.ctx, &iot.GetIndexingConfigurationInput{})
	must(t, err)
	if g.ThingIndexingConfiguration.ThingIndexingMode != types.ThingIndexingModeRegistryAndShadow {
		t.Fatalf("after refused updates: %+v", g.ThingIndexingConfiguration)
	}
}

func TestSearchIndexAndAggregations(t *testing.T) {
	e, x, svc := indexEnv(t)
	// Indexing off: the index does not exist.
	_, err := e.iot.SearchIndex(e.ctx, &iot.SearchIndexInput{QueryString: aws.String("*")})
	wantErr[*types.ResourceNotFoundException](t, err, 404)

	for i, n := range []string{"lamp-1", "lamp-2", "fan-1"} {
		_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String(n),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"room": []string{"kitchen", "hall", "kitchen"}[i]}}})
		must(t, err)
	}
	// A shadow written before indexing is on is read when the index is built.
	must(t, shadowUpdate(svc, "lamp-1", "", `{"state":{"reported":{"temp":20,"on":true}}}`))
	_, err = e.iot.UpdateIndexingConfiguration(e.ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
			ThingIndexingMode:             types.ThingIndexingModeRegistryAndShadow,
			ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus,
			NamedShadowIndexingMode:       types.NamedShadowIndexingModeOn,
			Filter:                        &types.IndexingFilter{NamedShadowNames: []string{"cfg"}},
			CustomFields: []types.Field{
				{Name: aws.String("shadow.reported.temp"), Type: types.FieldTypeNumber},
				{Name: aws.String("attributes.room"), Type: types.FieldTypeString},
			},
		}})
	must(t, err)
	// Changes after: a shadow update, a named shadow, a thing update, a connect.
	must(t, shadowUpdate(svc, "lamp-2", "", `{"state":{"reported":{"temp":30},"desired":{"temp":25}}}`))
	must(t, shadowUpdate(svc, "fan-1", "cfg", `{"state":{"reported":{"speed":3}}}`))
	must(t, shadowUpdate(svc, "nobody", "", `{"state":{"reported":{"temp":99}}}`)) // no such thing: not indexed
	_, err = e.iot.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("fan-1"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"room": "attic"}}})
	must(t, err)
	_, err = e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("lamps")})
	must(t, err)
	_, err = e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("lamps"), ThingName: aws.String("lamp-2")})
	must(t, err)
	x.PresenceChanged(index.Presence{ClientID: "lamp-1", Connected: true, Timestamp: 1700000000000})

	search := func(q string) []string {
		t.Helper()
		out, err := e.iot.SearchIndex(e.ctx, &iot.SearchIndexInput{QueryString: aws.String(q)})
		must(t, err)
		var names []string
		for _, d := range out.Things {
			names = append(names, aws.ToString(d.ThingName))
		}
		return names
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"*", []string{"fan-1", "lamp-1", "lamp-2"}},
		{"thingName:lamp*", []string{"lamp-1", "lamp-2"}},
		{"attributes.room:kitchen", []string{"lamp-1"}},
		{"attributes.room:attic", []string{"fan-1"}},
		{"shadow.reported.temp>25", []string{"lamp-2"}},
		{"shadow.reported.temp:[15 TO 25]", []string{"lamp-1"}},
		{"shadow.hasDelta:true", []string{"lamp-2"}},
		{"shadow.name.cfg.reported.speed:3", []string{"fan-1"}},
		{"connectivity.connected:true", []string{"lamp-1"}},
		{"connectivity.connected:false", []string{"fan-1", "lamp-2"}},
		{"thingGroupNames:lamps", []string{"lamp-2"}},
		{"thingName:lamp* AND NOT shadow.reported.on:true", []string{"lamp-2"}},
		{"nobody", nil},
	}
	for _, tc := range tests {
		if got := search(tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("search %q = %v, want %v", tc.query, got, tc.want)
		}
	}
	// The document's shape: shadow is a JSON string, connectivity an object.
	out, err := e.iot.SearchIndex(e.ctx, &iot.SearchIndexInput{QueryString: aws.String("thingName:lamp-1")})
	must(t, err)
	d := out.Things[0]
	var sh map[string]any
	must(t, json.Unmarshal([]byte(aws.ToString(d.Shadow)), &sh))
	if rep, _ := sh["reported"].(map[string]any); rep["temp"] != 20.0 || d.Connectivity == nil || !aws.ToBool(d.Connectivity.Connected) ||
		aws.ToInt64(d.Connectivity.Timestamp) != 1700000000000 || d.Attributes["room"] != "kitchen" {
		t.Fatalf("document %+v shadow %s", d, aws.ToString(d.Shadow))
	}
	// Paging.
	var pages [][]string
	var token *string
	for {
		p, err := e.iot.SearchIndex(e.ctx, &iot.SearchIndexInput{QueryString: aws.String("*"), MaxResults: aws.Int32(2), NextToken: token})
		must(t, err)
		var names []string
		for _, d := range p.Things {
			names = append(names, aws.ToString(d.ThingName))
		}
		pages = append(pages, names)
		if token = p.NextToken; token == nil {
			break
		}
	}
	if len(pages) != 2 || !slices.Equal(pages[1], []string{"lamp-2"}) {
		t.Fatalf("pages %v", pages)
	}
	// A deleted thing leaves the index.
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("temp-thing")})
	must(t, err)
	if got := search("thingName:temp-thing"); len(got) != 1 {
		t.Fatalf("new thing not indexed: %v", got)
	}
	_, err = e.iot.DeleteThing(e.ctx, &iot.DeleteThingInput{ThingName: aws.String("temp-thing")})
	must(t, err)
	if got := search("thingName:temp-thing"); len(got) != 0 {
		t.Fatalf("deleted thing still indexed: %v", got)
	}

	// Aggregations.
	st, err := e.iot.GetStatistics(e.ctx, &iot.GetStatisticsInput{QueryString: aws.String("*"), AggregationField: aws.String("shadow.reported.temp")})
	must(t, err)
	s := st.Statistics
	if s.Count != 2 || aws.ToFloat64(s.Average) != 25 || aws.ToFloat64(s.Minimum) != 20 || aws.ToFloat64(s.Maximum) != 30 || aws.ToFloat64(s.Sum) != 50 {
		t.Fatalf("statistics %+v", s)
	}
	st, err = e.iot.GetStatistics(e.ctx, &iot.GetStatisticsInput{QueryString: aws.String("*"), AggregationField: aws.String("connectivity.connected")})
	must(t, err)
	if st.Statistics.Count != 3 || aws.ToFloat64(st.Statistics.Sum) != 1 || aws.ToFloat64(st.Statistics.Maximum) != 1 {
		t.Fatalf("boolean statistics %+v", st.Statistics)
	}
	card, err := e.iot.GetCardinality(e.ctx, &iot.GetCardinalityInput{QueryString: aws.String("*"), AggregationField: aws.String("attributes.room")})
	must(t, err)
	if card.Cardinality != 3 {
		t.Fatalf("cardinality %d", card.Cardinality)
	}
	pc, err := e.iot.GetPercentiles(e.ctx, &iot.GetPercentilesInput{QueryString: aws.String("*"), AggregationField: aws.String("shadow.reported.temp"), Percents: []float64{0, 50, 100}})
	must(t, err)
	if len(pc.Percentiles) != 3 || pc.Percentiles[0].Value != 20 || pc.Percentiles[1].Value != 25 || pc.Percentiles[2].Value != 30 {
		t.Fatalf("percentiles %+v", pc.Percentiles)
	}
	bk, err := e.iot.GetBucketsAggregation(e.ctx, &iot.GetBucketsAggregationInput{QueryString: aws.String("*"), AggregationField: aws.String("connectivity.connected"),
		BucketsAggregationType: &types.BucketsAggregationType{TermsAggregation: &types.TermsAggregation{MaxBuckets: aws.Int32(5)}}})
	must(t, err)
	if bk.TotalCount != 3 || len(bk.Buckets) != 2 || aws.ToString(bk.Buckets[0].KeyValue) != "false" || bk.Buckets[0].Count != 2 {
		t.Fatalf("buckets %d %+v", bk.TotalCount, bk.Buckets)
	}

	// Errors.
	_, err = e.iot.SearchIndex(e.ctx, &iot.SearchIndexInput{QueryString: aws.String("thingName:(a")})
	qe := wantErr[*types.InvalidQueryException](t, err, 400)
	if !containsJSON([]byte(aws.ToString(qe.Message)), "character 13") {
		t.Errorf("query error without position: %s", aws.ToString(qe.Message))
	}
	_, err = e.iot.GetStatistics(e.ctx, &iot.GetStatisticsInput{QueryString: aws.String("*"), AggregationField: aws.String("attributes.unconfigured")})
	wantErr[*types.InvalidAggregationException](t, err, 400)
	_, err = e.iot.GetPercentiles(e.ctx, &iot.GetPercentilesInput{QueryString: aws.String("*"), AggregationField: aws.String("attributes.room")})
	wantErr[*types.InvalidAggregationException](t, err, 400)
	_, err = e.iot.SearchIndex(e.ctx, &iot.SearchIndexInput{IndexName: aws.String("AWS_Other"), QueryString: aws.String("*")})
	wantErr[*types.ResourceNotFoundException](t, err, 404)
	_, err = e.iot.SearchIndex(e.ctx, &iot.SearchIndexInput{QueryString: aws.String("*"), MaxResults: aws.Int32(101)})
	wantErr[*types.InvalidRequestException](t, err, 400)

	// The thing group index.
	_, err = e.iot.UpdateIndexingConfiguration(e.ctx, &iot.UpdateIndexingConfigurationInput{
		ThingGroupIndexingConfiguration: &types.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: types.ThingGroupIndexingModeOn}})
	must(t, err)
	gout, err := e.iot.SearchIndex(e.ctx, &iot.SearchIndexInput{IndexName: aws.String("AWS_ThingGroups"), QueryString: aws.String("thingGroupName:lam*")})
	must(t, err)
	if len(gout.ThingGroups) != 1 || aws.ToString(gout.ThingGroups[0].ThingGroupName) != "lamps" {
		t.Fatalf("group search %+v", gout.ThingGroups)
	}
	// Turning thing indexing off drops the index.
	_, err = e.iot.UpdateIndexingConfiguration(e.ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff}})
	must(t, err)
	_, err = e.iot.SearchIndex(e.ctx, &iot.SearchIndexInput{QueryString: aws.String("*")})
	wantErr[*types.ResourceNotFoundException](t, err, 404)
}

// shadowUpdate updates a shadow through the service, as the MQTT and HTTP faces do.
func shadowUpdate(svc *shadow.Service, thing, name, doc string) error {
	if r := svc.Update(shadow.Key{Thing: thing, Name: name}, []byte(doc)); r.Err != nil {
		return r.Err
	}
	return nil
}
