// Package index is fleet indexing: the thing (and thing group) index that SearchIndex and the
// aggregation operations query, kept up to date from the registry's change notifications, the
// shadow service's accepted updates and the broker's connects and disconnects. It knows
// nothing of MQTT or HTTP: the emulator feeds it events, the api package gives it a wire.
//
// The index is in memory: one document per thing, with its fields flattened (attributes.x,
// shadow.reported.a.b, connectivity.connected, ...). Enabling it builds the documents from the
// registry and the shadow store; turning it OFF drops them, and then the events cost one
// atomic load each.
package index

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/iotcore-local/iotcore-local/registry"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// Errors, by the AWS exception each maps to.
var (
	ErrInvalidRequest     = errors.New("InvalidRequestException")
	ErrInvalidQuery       = errors.New("InvalidQueryException")
	ErrInvalidAggregation = errors.New("InvalidAggregationException")
	ErrNotFound           = errors.New("ResourceNotFoundException")
)

// Index names.
const (
	ThingsIndex = "AWS_Things"
	GroupsIndex = "AWS_ThingGroups"
)

// settingKey is where the configuration is kept in the registry.
const settingKey = "indexingConfiguration"

// Shadows is what the index reads of the shadow service: a shadow's current document.
type Shadows interface {
	Get(key shadow.Key, payload []byte) shadow.Result
}

// Options configure an Index.
type Options struct {
	Registry *registry.Registry
	Shadows  Shadows // nil: shadow fields are never indexed
	Logger   *slog.Logger
}

// Index is the fleet index. It is safe for concurrent use.
type Index struct {
	reg     *registry.Registry
	shadows Shadows
	log     *slog.Logger
	unwatch func()

	// on, shadowOn, connOn are the modes the event paths check without a lock; hasDynamic
	// says dynamic thing groups exist (dynamic.go).
	on, shadowOn, connOn, hasDynamic atomic.Bool

	kick             chan struct{}
	done, workerDone chan struct{}
	closeOnce        sync.Once

	mu    sync.RWMutex
	cfg   Configuration
	docs  map[string]*document // thing name → document (nil while indexing is OFF)
	conns map[string]Presence  // client id → last presence (while connectivity is on)
	named map[string]struct{}  // named shadows indexed (from the filter)
	// stale lists the documents a shadow update or a connect/disconnect changed since the last
	// query: the event paths only mark them, and the next query reads and flattens them again
	// (freshen), so a device's message path pays a map write, not a read of the shadow store.
	stale map[string]struct{}
}

// document is one thing's indexed state.
type document struct {
	m       registry.ThingMembership
	shadows map[string]map[string]any // shadow name ("" classic) → its document
	fields  fields
	// staleShadows are the shadows to read again at the next freshen.
	staleShadows map[string]struct{}
}

// New opens the index with the configuration stored in the registry and builds it if it is
// enabled. Close stops its registry watch.
func New(opts Options) (*Index, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	x := &Index{reg: opts.Registry, shadows: opts.Shadows, log: opts.Logger, cfg: defaultConfiguration()}
	var stored Configuration
	found, err := x.reg.GetSetting(settingKey, &stored)
	if err != nil {
		return nil, fmt.Errorf("index: read the indexing configuration: %w", err)
	}
	if found {
		if stored, err = normalize(stored); err == nil {
			x.cfg = stored
		} else {
			x.log.Warn("index: stored configuration ignored", "error", err)
		}
	}
	x.unwatch = x.reg.Watch(x.registryChanged)
	if err := x.rebuild(); err != nil {
		x.unwatch()
		return nil, err
	}
	dyn, err := x.reg.DynamicThingGroups()
	if err != nil {
		x.unwatch()
		return nil, fmt.Errorf("index: read dynamic thing groups: %w", err)
	}
	x.hasDynamic.Store(len(dyn) > 0)
	x.startWorker()
	x.maybeKick()
	return x, nil
}

// Close stops following the registry and stops the dynamic thing group worker.
func (x *Index) Close() error {
	if x.unwatch != nil {
		x.unwatch()
	}
	x.stopWorker()
	return nil
}

// Configuration returns the indexing configuration in force.
func (x *Index) Configuration() Configuration {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.cfg
}

// UpdateConfiguration checks, stores and applies a configuration, rebuilding the index. Thing
// indexing cannot be turned off while dynamic thing groups exist.
func (x *Index) UpdateConfiguration(c Configuration) error {
	c, err := normalize(c)
	if err != nil {
		return err
	}
	if c.Thing.ThingIndexingMode == ModeOff {
		dyn, err := x.reg.DynamicThingGroups()
		if err != nil {
			return fmt.Errorf("index: read dynamic thing groups: %w", err)
		}
		if len(dyn) > 0 {
			return fmt.Errorf("%w: thing indexing cannot be turned off while %d dynamic thing groups exist (%s first)", ErrInvalidRequest, len(dyn), dyn[0].Name)
		}
	}
	if err := x.reg.PutSetting(settingKey, c); err != nil {
		return fmt.Errorf("index: store the configuration: %w", err)
	}
	x.mu.Lock()
	x.cfg = c
	x.mu.Unlock()
	if err := x.rebuild(); err != nil {
		return err
	}
	x.maybeKick()
	return nil
}

// rebuild drops the documents and, when thing indexing is on, reads every thing (and its
// shadows) again.
func (x *Index) rebuild() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.cfg.Thing
	on := t.ThingIndexingMode != ModeOff
	x.on.Store(on)
	x.shadowOn.Store(on && x.shadows != nil && (t.ThingIndexingMode == ModeRegistryAndShadow || t.NamedShadowIndexingMode == ModeOn))
	wasConn := x.connOn.Load()
	x.connOn.Store(on && t.ThingConnectivityIndexingMode == ModeStatus)
	if !x.connOn.Load() {
		x.conns = nil
	} else if !wasConn || x.conns == nil {
		x.conns = map[string]Presence{}
	}
	x.named = map[string]struct{}{}
	x.stale = map[string]struct{}{}
	if t.NamedShadowIndexingMode == ModeOn && t.Filter != nil {
		for _, n := range t.Filter.NamedShadowNames {
			x.named[n] = struct{}{}
		}
	}
	if !on {
		x.docs = nil
		return nil
	}
	docs := map[string]*document{}
	err := x.reg.EachThing(func(m registry.ThingMembership) error {
		d := &document{m: m}
		x.loadShadows(d)
		d.fields = x.flatten(d)
		docs[m.Thing.Name] = d
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: build: %w", err)
	}
	x.docs = docs
	x.log.Info("index: built", "things", len(docs), "mode", t.ThingIndexingMode,
		"connectivity", t.ThingConnectivityIndexingMode, "named_shadows", t.NamedShadowIndexingMode)
	return nil
}

// loadShadows reads the indexed shadows of a thing. Called with mu held (or on a document
// not yet shared).
func (x *Index) loadShadows(d *document) {
	if !x.shadowOn.Load() {
		return
	}
	names := make([]string, 0, 1+len(x.named))
	if x.cfg.Thing.ThingIndexingMode == ModeRegistryAndShadow {
		names = append(names, "")
	}
	for n := range x.named {
		names = append(names, n)
	}
	for _, n := range names {
		if doc := x.readShadow(shadow.Key{Thing: d.m.Thing.Name, Name: n}); doc != nil {
			if d.shadows == nil {
				d.shadows = map[string]map[string]any{}
			}
			d.shadows[n] = doc
		}
	}
}

// readShadow returns a shadow's document, or nil when it has none.
func (x *Index) readShadow(k shadow.Key) map[string]any {
	res := x.shadows.Get(k, nil)
	if res.Status != 200 {
		return nil
	}
	var doc map[string]any
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		return nil
	}
	return doc
}

// registryChanged follows the registry: a thing's document is read again when it changes.
func (x *Index) registryChanged(ev registry.Event) {
	if ev.Kind != registry.ThingChanged || !x.on.Load() {
		return
	}
	m, found, err := x.reg.ThingWithMemberships(ev.ThingName)
	if err != nil {
		x.log.Warn("index: read changed thing", "thing", ev.ThingName, "error", err)
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.docs == nil {
		return
	}
	if !found {
		delete(x.docs, ev.ThingName)
		x.maybeKick()
		return
	}
	d := x.docs[ev.ThingName]
	if d == nil {
		d = &document{}
		x.loadShadowsFor(d, m)
		x.docs[ev.ThingName] = d
	}
	d.m = m
	d.fields = x.flatten(d)
	x.maybeKick()
}

func (x *Index) loadShadowsFor(d *document, m registry.ThingMembership) {
	d.m = m
	x.loadShadows(d)
}

// ShadowChanged is told that a shadow was updated or deleted. It only marks the document: the
// next query reads the shadow again. One atomic load when shadow indexing is off.
func (x *Index) ShadowChanged(k shadow.Key) {
	if !x.shadowOn.Load() {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	_, named := x.named[k.Name]
	classic := k.Name == "" && x.cfg.Thing.ThingIndexingMode == ModeRegistryAndShadow
	d := x.docs[k.Thing]
	if d == nil || !(classic || named) {
		return // shadows of unregistered things, and shadows not configured, are not indexed
	}
	if d.staleShadows == nil {
		d.staleShadows = map[string]struct{}{}
	}
	d.staleShadows[k.Name] = struct{}{}
	x.stale[k.Thing] = struct{}{}
	x.maybeKick()
}

// freshen reads again the shadows marked stale and flattens the stale documents. Called before
// every query.
func (x *Index) freshen() {
	x.mu.RLock()
	n := len(x.stale)
	x.mu.RUnlock()
	if n == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for name := range x.stale {
		d := x.docs[name]
		if d == nil {
			continue
		}
		for sh := range d.staleShadows {
			if doc := x.readShadow(shadow.Key{Thing: name, Name: sh}); doc != nil {
				if d.shadows == nil {
					d.shadows = map[string]map[string]any{}
				}
				d.shadows[sh] = doc
			} else {
				delete(d.shadows, sh)
			}
		}
		d.staleShadows = nil
		d.fields = x.flatten(d)
	}
	clear(x.stale)
}

// Presence is a connect or disconnect of an MQTT client, for connectivity indexing (AWS
// indexes a thing's connectivity by the client id equal to its name).
type Presence struct {
	ClientID         string
	Connected        bool
	Timestamp        int64 // epoch milliseconds
	DisconnectReason string
	Version          int64
}

// PresenceChanged records a connect or disconnect; the document is flattened again at the
// next query. One atomic load when connectivity indexing is off.
func (x *Index) PresenceChanged(p Presence) {
	if !x.connOn.Load() {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.conns == nil {
		return
	}
	if cur, ok := x.conns[p.ClientID]; ok && cur.Connected && !p.Connected && p.Version < cur.Version {
		return // the disconnect of a connection a newer one took over
	}
	x.conns[p.ClientID] = p
	if _, ok := x.docs[p.ClientID]; ok {
		x.stale[p.ClientID] = struct{}{}
		x.maybeKick()
	}
}

// flatten computes a document's fields. Called with mu held.
func (x *Index) flatten(d *document) fields {
	t := d.m.Thing
	f := fields{
		"thingName":        {stringValue(t.Name)},
		"thingId":          {stringValue(t.ID)},
		"registry.version": {numberValue(float64(t.Version))},
	}
	if t.TypeName != "" {
		f["thingTypeName"] = []value{stringValue(t.TypeName)}
		f["registry.thingTypeName"] = f["thingTypeName"]
	}
	var groups []value
	for _, g := range d.m.Groups {
		groups = append(groups, stringValue(g))
	}
	if d.m.BillingGroup != "" {
		groups = append(groups, stringValue(d.m.BillingGroup))
	}
	if len(groups) > 0 {
		f["thingGroupNames"] = groups
		f["registry.thingGroupNames"] = groups
	}
	for k, v := range t.Attributes {
		f["attributes."+k] = []value{stringValue(v)}
	}
	for name, doc := range d.shadows {
		prefix := "shadow."
		if name != "" {
			prefix = "shadow.name." + name + "."
		}
		if st, ok := doc["state"].(map[string]any); ok {
			for _, sec := range []string{"desired", "reported", "delta"} {
				if m, ok := st[sec].(map[string]any); ok {
					flattenJSON(f, prefix+sec, m)
				}
			}
			_, hasDelta := st["delta"]
			f[prefix+"hasDelta"] = []value{boolValue(hasDelta)}
		}
		if md, ok := doc["metadata"].(map[string]any); ok {
			flattenJSON(f, prefix+"metadata", md)
		}
		if v, ok := doc["version"].(float64); ok {
			f[prefix+"version"] = []value{numberValue(v)}
		}
	}
	if x.conns != nil {
		c, seen := x.conns[t.Name]
		f["connectivity.connected"] = []value{boolValue(seen && c.Connected)}
		if seen {
			f["connectivity.timestamp"] = []value{numberValue(float64(c.Timestamp))}
			f["connectivity.version"] = []value{numberValue(float64(c.Version))}
			if !c.Connected && c.DisconnectReason != "" {
				f["connectivity.disconnectReason"] = []value{stringValue(c.DisconnectReason)}
			}
		}
	}
	return f
}

// flattenJSON adds the simple values of a JSON object under prefix, joining keys with ".";
// arrays of simple values add one value each, arrays holding objects are not indexed, nulls
// are not indexed (AWS's indexing rules).
func flattenJSON(f fields, prefix string, m map[string]any) {
	for k, v := range m {
		name := prefix + "." + k
		switch v := v.(type) {
		case map[string]any:
			flattenJSON(f, name, v)
		case []any:
			var vs []value
			for _, e := range v {
				sv, ok := simple(e)
				if !ok {
					vs = nil
					break
				}
				vs = append(vs, sv)
			}
			if len(vs) > 0 {
				f[name] = vs
			}
		default:
			if sv, ok := simple(v); ok {
				f[name] = append(f[name], sv)
			}
		}
	}
}

func simple(v any) (value, bool) {
	switch v := v.(type) {
	case string:
		return stringValue(v), true
	case float64:
		return numberValue(v), true
	case bool:
		return boolValue(v), true
	}
	return value{}, false
}

// ThingDocument is one result of SearchIndex on AWS_Things.
type ThingDocument struct {
	ThingName       string            `json:"thingName"`
	ThingID         string            `json:"thingId"`
	ThingTypeName   string            `json:"thingTypeName,omitempty"`
	ThingGroupNames []string          `json:"thingGroupNames,omitempty"`
	Attributes      map[string]string `json:"attributes,omitempty"`
	Shadow          string            `json:"shadow,omitempty"` // a JSON document in a string, as on AWS
	Connectivity    *Connectivity     `json:"connectivity,omitempty"`
}

// Connectivity is a ThingDocument's connectivity.
type Connectivity struct {
	Connected        bool   `json:"connected"`
	Timestamp        int64  `json:"timestamp,omitempty"`
	DisconnectReason string `json:"disconnectReason,omitempty"`
}

// ThingGroupDocument is one result of SearchIndex on AWS_ThingGroups.
type ThingGroupDocument struct {
	ThingGroupName        string            `json:"thingGroupName"`
	ThingGroupID          string            `json:"thingGroupId"`
	ThingGroupDescription string            `json:"thingGroupDescription,omitempty"`
	Attributes            map[string]string `json:"attributes,omitempty"`
	ParentGroupNames      []string          `json:"parentGroupNames,omitempty"`
}

// SearchResult is SearchIndex's answer: Things or ThingGroups, and the next page's token.
type SearchResult struct {
	Things      []ThingDocument
	ThingGroups []ThingGroupDocument
	NextToken   string
}

// Limits of SearchIndex.
const (
	defaultSearchResults = 100
	maxSearchResults     = 100
)

// parseQuery parses a query for an operation, as an InvalidQueryException.
func parseQuery(q string) (node, error) {
	n, err := Parse(q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	return n, nil
}

// Search runs a query on an index and returns one page of documents, by name.
func (x *Index) Search(indexName, query, nextToken string, maxResults int) (SearchResult, error) {
	if maxResults == 0 {
		maxResults = defaultSearchResults
	}
	if maxResults < 1 || maxResults > maxSearchResults {
		return SearchResult{}, fmt.Errorf("%w: maxResults: must be between 1 and %d", ErrInvalidRequest, maxSearchResults)
	}
	n, err := parseQuery(query)
	if err != nil {
		return SearchResult{}, err
	}
	after := ""
	if nextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(nextToken)
		if err != nil || len(b) == 0 {
			return SearchResult{}, fmt.Errorf("%w: nextToken: not a token this operation returned", ErrInvalidRequest)
		}
		after = string(b)
	}
	switch indexName {
	case "", ThingsIndex:
		return x.searchThings(n, after, maxResults)
	case GroupsIndex:
		return x.searchGroups(n, after, maxResults)
	}
	return SearchResult{}, fmt.Errorf("%w: index %s does not exist (the indexes are %s and %s)", ErrNotFound, indexName, ThingsIndex, GroupsIndex)
}

// matchingThings returns the names of the things matching n, sorted. Called with mu held.
func (x *Index) matchingThings(n node) []string {
	var names []string
	for name, d := range x.docs {
		if matches(n, d.fields) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func (x *Index) thingsReady() error {
	if !x.on.Load() {
		return fmt.Errorf("%w: index %s does not exist: thing indexing is OFF (UpdateIndexingConfiguration turns it on)", ErrNotFound, ThingsIndex)
	}
	return nil
}

func (x *Index) searchThings(n node, after string, max int) (SearchResult, error) {
	if err := x.thingsReady(); err != nil {
		return SearchResult{}, err
	}
	x.freshen()
	x.mu.RLock()
	defer x.mu.RUnlock()
	names := x.matchingThings(n)
	start := sort.SearchStrings(names, after)
	if start < len(names) && names[start] == after {
		start++
	}
	page := names[start:]
	out := SearchResult{Things: make([]ThingDocument, 0, min(len(page), max))}
	if len(page) > max {
		page = page[:max]
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(page[max-1]))
	}
	for _, name := range page {
		out.Things = append(out.Things, x.thingDocument(x.docs[name]))
	}
	return out, nil
}

// thingDocument renders a document as SearchIndex returns it. Called with mu held.
func (x *Index) thingDocument(d *document) ThingDocument {
	t := d.m.Thing
	td := ThingDocument{ThingName: t.Name, ThingID: t.ID, ThingTypeName: t.TypeName, Attributes: t.Attributes}
	td.ThingGroupNames = append(td.ThingGroupNames, d.m.Groups...)
	if d.m.BillingGroup != "" {
		td.ThingGroupNames = append(td.ThingGroupNames, d.m.BillingGroup)
	}
	if len(d.shadows) > 0 {
		sh := map[string]any{}
		for name, doc := range d.shadows {
			body := map[string]any{}
			if st, ok := doc["state"].(map[string]any); ok {
				for k, v := range st {
					body[k] = v
				}
				_, hasDelta := st["delta"]
				body["hasDelta"] = hasDelta
			}
			for _, k := range []string{"metadata", "version"} {
				if v, ok := doc[k]; ok {
					body[k] = v
				}
			}
			if name == "" {
				for k, v := range body {
					sh[k] = v
				}
				continue
			}
			named, _ := sh["name"].(map[string]any)
			if named == nil {
				named = map[string]any{}
				sh["name"] = named
			}
			named[name] = body
		}
		if b, err := json.Marshal(sh); err == nil {
			td.Shadow = string(b)
		}
	}
	if x.conns != nil {
		c, seen := x.conns[t.Name]
		td.Connectivity = &Connectivity{Connected: seen && c.Connected}
		if seen {
			td.Connectivity.Timestamp = c.Timestamp
			if !c.Connected {
				td.Connectivity.DisconnectReason = c.DisconnectReason
			}
		}
	}
	return td
}

// groupFields are the indexed fields of a thing group.
func groupFields(g registry.ThingGroup, parents []string) fields {
	f := fields{"thingGroupName": {stringValue(g.Name)}, "thingGroupId": {stringValue(g.ID)}}
	if g.Description != "" {
		f["description"] = []value{stringValue(g.Description)}
		f["thingGroupDescription"] = f["description"]
	}
	for k, v := range g.Attributes {
		f["attributes."+k] = []value{stringValue(v)}
	}
	for _, p := range parents {
		f["parentGroupNames"] = append(f["parentGroupNames"], stringValue(p))
	}
	return f
}

// searchGroups queries the thing group index, built from the registry on each query (groups
// are few).
func (x *Index) searchGroups(n node, after string, max int) (SearchResult, error) {
	if x.Configuration().Group.ThingGroupIndexingMode != ModeOn {
		return SearchResult{}, fmt.Errorf("%w: index %s does not exist: thing group indexing is OFF", ErrNotFound, GroupsIndex)
	}
	groups, err := x.allGroups()
	if err != nil {
		return SearchResult{}, err
	}
	out := SearchResult{ThingGroups: []ThingGroupDocument{}}
	for _, g := range groups {
		if g.Name <= after && after != "" {
			continue
		}
		var parents []string
		for _, a := range g.RootToParent {
			parents = append(parents, a.GroupName)
		}
		if !matches(n, groupFields(g, parents)) {
			continue
		}
		if len(out.ThingGroups) == max {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(out.ThingGroups[max-1].ThingGroupName))
			break
		}
		out.ThingGroups = append(out.ThingGroups, ThingGroupDocument{ThingGroupName: g.Name, ThingGroupID: g.ID,
			ThingGroupDescription: g.Description, Attributes: g.Attributes, ParentGroupNames: parents})
	}
	return out, nil
}

// allGroups reads every thing group with its ancestry, by name.
func (x *Index) allGroups() ([]registry.ThingGroup, error) {
	var out []registry.ThingGroup
	token := ""
	for {
		page, next, err := x.reg.ListThingGroups(registry.ListThingGroupsInput{NextToken: token, MaxResults: 250})
		if err != nil {
			return nil, fmt.Errorf("index: list thing groups: %w", err)
		}
		for _, s := range page {
			g, err := x.reg.DescribeThingGroup(s.Name)
			if err != nil {
				continue // deleted meanwhile
			}
			out = append(out, g)
		}
		if next == "" {
			break
		}
		token = next
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].Name, out[j].Name) < 0 })
	return out, nil
}
