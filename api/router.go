package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// call is one routed request: the request and the values of the path's {variables}, unescaped.
type call struct {
	r    *http.Request
	vars map[string]string
}

// query returns a query parameter ("" when absent).
func (c *call) query(name string) string { return c.r.URL.Query().Get(name) }

// route is one operation: a method, a path pattern and the function that runs it. A handler
// returns the value to encode as the JSON body of a 200, or an error for writeAPIError.
type route struct {
	method string
	op     string   // AWS operation name, for logs
	segs   []string // pattern segments; "{name}" binds one whole segment, a last "{name+}" the rest of the path
	handle func(*call) (any, error)
}

// router is a table of routes tried in order. It matches on the escaped path, segment by
// segment, and unescapes each segment on its own, so that a %2F inside a segment (an ARN in
// /attached-policies/{target}) stays inside that segment instead of splitting the path.
type router []route

// add appends a route for method and pattern ("/things/{thingName}/principals").
func (rt *router) add(method, pattern, op string, h func(*call) (any, error)) {
	*rt = append(*rt, route{method: method, op: op, segs: strings.Split(strings.TrimPrefix(pattern, "/"), "/"), handle: h})
}

// routeTable lists every operation the API serves.
func (s *server) routeTable() router {
	var rt router
	if s.cfg.Authorizers != nil {
		s.authorizerRoutes(&rt)
	}
	// Things.
	rt.add(http.MethodGet, "/things", "ListThings", s.listThings)
	rt.add(http.MethodPost, "/things/{thingName}", "CreateThing", s.createThing)
	rt.add(http.MethodGet, "/things/{thingName}", "DescribeThing", s.describeThing)
	rt.add(http.MethodDelete, "/things/{thingName}", "DeleteThing", s.deleteThing)
	rt.add(http.MethodPatch, "/things/{thingName}", "UpdateThing", s.updateThing)
	rt.add(http.MethodGet, "/things/{thingName}/thing-groups", "ListThingGroupsForThing", s.listThingGroupsForThing)
	// Thing types.
	rt.add(http.MethodGet, "/thing-types", "ListThingTypes", s.listThingTypes)
	rt.add(http.MethodPost, "/thing-types/{thingTypeName}", "CreateThingType", s.createThingType)
	rt.add(http.MethodGet, "/thing-types/{thingTypeName}", "DescribeThingType", s.describeThingType)
	rt.add(http.MethodPatch, "/thing-types/{thingTypeName}", "UpdateThingType", s.updateThingType)
	rt.add(http.MethodDelete, "/thing-types/{thingTypeName}", "DeleteThingType", s.deleteThingType)
	rt.add(http.MethodPost, "/thing-types/{thingTypeName}/deprecate", "DeprecateThingType", s.deprecateThingType)
	// Thing groups (the two fixed paths before the {thingGroupName} ones).
	rt.add(http.MethodPut, "/thing-groups/addThingToThingGroup", "AddThingToThingGroup", s.addThingToThingGroup)
	rt.add(http.MethodPut, "/thing-groups/removeThingFromThingGroup", "RemoveThingFromThingGroup", s.removeThingFromThingGroup)
	rt.add(http.MethodGet, "/thing-groups", "ListThingGroups", s.listThingGroups)
	rt.add(http.MethodPost, "/thing-groups/{thingGroupName}", "CreateThingGroup", s.createThingGroup)
	rt.add(http.MethodGet, "/thing-groups/{thingGroupName}", "DescribeThingGroup", s.describeThingGroup)
	rt.add(http.MethodPatch, "/thing-groups/{thingGroupName}", "UpdateThingGroup", s.updateThingGroup)
	rt.add(http.MethodDelete, "/thing-groups/{thingGroupName}", "DeleteThingGroup", s.deleteThingGroup)
	rt.add(http.MethodGet, "/thing-groups/{thingGroupName}/things", "ListThingsInThingGroup", s.listThingsInThingGroup)
	// Policies.
	rt.add(http.MethodGet, "/policies", "ListPolicies", s.listPolicies)
	rt.add(http.MethodPost, "/policies/{policyName}", "CreatePolicy", s.createPolicy)
	rt.add(http.MethodGet, "/policies/{policyName}", "GetPolicy", s.getPolicy)
	rt.add(http.MethodDelete, "/policies/{policyName}", "DeletePolicy", s.deletePolicy)
	rt.add(http.MethodPost, "/policies/{policyName}/version", "CreatePolicyVersion", s.createPolicyVersion)
	rt.add(http.MethodGet, "/policies/{policyName}/version", "ListPolicyVersions", s.listPolicyVersions)
	rt.add(http.MethodGet, "/policies/{policyName}/version/{policyVersionId}", "GetPolicyVersion", s.getPolicyVersion)
	rt.add(http.MethodPatch, "/policies/{policyName}/version/{policyVersionId}", "SetDefaultPolicyVersion", s.setDefaultPolicyVersion)
	rt.add(http.MethodDelete, "/policies/{policyName}/version/{policyVersionId}", "DeletePolicyVersion", s.deletePolicyVersion)
	rt.add(http.MethodPost, "/test-authorization", "TestAuthorization", s.testAuthorization)
	// Certificates.
	rt.add(http.MethodPost, "/keys-and-certificate", "CreateKeysAndCertificate", s.createKeysAndCertificate)
	rt.add(http.MethodPost, "/certificate/register-no-ca", "RegisterCertificateWithoutCA", s.registerCertificateWithoutCA)
	rt.add(http.MethodGet, "/certificates", "ListCertificates", s.listCertificates)
	rt.add(http.MethodGet, "/certificates/{certificateId}", "DescribeCertificate", s.describeCertificate)
	rt.add(http.MethodPut, "/certificates/{certificateId}", "UpdateCertificate", s.updateCertificate)
	rt.add(http.MethodDelete, "/certificates/{certificateId}", "DeleteCertificate", s.deleteCertificate)
	rt.add(http.MethodPost, "/certificates", "CreateCertificateFromCsr", s.createCertificateFromCsr)
	rt.add(http.MethodPost, "/certificate/register", "RegisterCertificate", s.registerCertificate)
	rt.add(http.MethodGet, "/certificates-by-ca/{caCertificateId}", "ListCertificatesByCA", s.listCertificatesByCA)
	// CA certificates.
	rt.add(http.MethodGet, "/registrationcode", "GetRegistrationCode", s.getRegistrationCode)
	rt.add(http.MethodDelete, "/registrationcode", "DeleteRegistrationCode", s.deleteRegistrationCode)
	rt.add(http.MethodPost, "/cacertificate", "RegisterCACertificate", s.registerCACertificate)
	rt.add(http.MethodGet, "/cacertificates", "ListCACertificates", s.listCACertificates)
	rt.add(http.MethodGet, "/cacertificate/{certificateId}", "DescribeCACertificate", s.describeCACertificate)
	rt.add(http.MethodPut, "/cacertificate/{certificateId}", "UpdateCACertificate", s.updateCACertificate)
	rt.add(http.MethodDelete, "/cacertificate/{certificateId}", "DeleteCACertificate", s.deleteCACertificate)
	// Tags.
	rt.add(http.MethodPost, "/tags", "TagResource", s.tagResource)
	rt.add(http.MethodPost, "/untag", "UntagResource", s.untagResource)
	rt.add(http.MethodGet, "/tags", "ListTagsForResource", s.listTagsForResource)
	// Event configurations.
	rt.add(http.MethodPatch, "/event-configurations", "UpdateEventConfigurations", s.updateEventConfigurations)
	rt.add(http.MethodGet, "/event-configurations", "DescribeEventConfigurations", s.describeEventConfigurations)
	// Attachments.
	rt.add(http.MethodPut, "/target-policies/{policyName}", "AttachPolicy", s.attachPolicy)
	rt.add(http.MethodPost, "/target-policies/{policyName}", "DetachPolicy", s.detachPolicy)
	rt.add(http.MethodPost, "/attached-policies/{target}", "ListAttachedPolicies", s.listAttachedPolicies)
	rt.add(http.MethodPost, "/policy-targets/{policyName}", "ListTargetsForPolicy", s.listTargetsForPolicy)
	rt.add(http.MethodPut, "/things/{thingName}/principals", "AttachThingPrincipal", s.attachThingPrincipal)
	rt.add(http.MethodDelete, "/things/{thingName}/principals", "DetachThingPrincipal", s.detachThingPrincipal)
	rt.add(http.MethodGet, "/things/{thingName}/principals", "ListThingPrincipals", s.listThingPrincipals)
	rt.add(http.MethodGet, "/principals/things", "ListPrincipalThings", s.listPrincipalThings)
	rt.add(http.MethodGet, "/things/{thingName}/principals-v2", "ListThingPrincipalsV2", s.listThingPrincipalsV2)
	rt.add(http.MethodGet, "/principals/things-v2", "ListPrincipalThingsV2", s.listPrincipalThingsV2)
	// Role aliases, billing groups, logging options, fleet indexing (controlplane.go).
	s.addControlPlaneRoutes(&rt)
	// Fleet provisioning (provisioning.go).
	s.provisioningRoutes(&rt)
	// Endpoint.
	rt.add(http.MethodGet, "/endpoint", "DescribeEndpoint", s.describeEndpoint)
	// Jobs (jobs.go).
	s.addJobRoutes(&rt)
	// Rules engine (rules.go).
	s.ruleRoutes(&rt)
	// Emulator-only.
	rt.add(http.MethodGet, "/health", "Health", s.health)
	rt.add(http.MethodGet, "/_iotcore/root-ca.pem", "RootCA", s.rootCA)
	rt.add(http.MethodGet, "/_iotcore/connections", "Connections", s.connections)
	rt.add(http.MethodGet, "/_iotcore/connections/stream", "ConnectionStream", s.connectionStreamRoute)
	rt.add(http.MethodGet, "/_iotcore/tls-faults", "ListTLSFaults", s.tlsFaults)
	rt.add(http.MethodPost, "/_iotcore/tls-faults", "AddTLSFault", s.addTLSFault)
	rt.add(http.MethodDelete, "/_iotcore/tls-faults", "DeleteTLSFault", s.deleteTLSFault)
	rt.add(http.MethodPost, "/_iotcore/console/mqtt-url", "ConsoleMQTTURL", s.consoleMQTTURL)
	return rt
}

// dataPlaneTable lists the operations of the data plane (service iotdata, rest-json, the
// iot:Data-ATS endpoint). The SDKs send a topic a/b as one escaped segment, a%2Fb; AWS's own
// curl examples send it with raw slashes (/topics/a/b), which {topic+} accepts too.
func (s *server) dataPlaneTable() router {
	var rt router
	rt.add(http.MethodPost, "/topics/{topic+}", "Publish", s.publish)
	rt.add(http.MethodGet, "/retainedMessage", "ListRetainedMessages", s.listRetainedMessages)
	rt.add(http.MethodGet, "/retainedMessage/{topic+}", "GetRetainedMessage", s.getRetainedMessage)
	rt.add(http.MethodDelete, "/connections/{clientId}", "DeleteConnection", s.deleteConnection)
	// Device Shadow (shadow.go), when there is a shadow service; ?name= selects a named shadow.
	if s.cfg.Shadows != nil {
		rt.add(http.MethodGet, "/things/{thingName}/shadow", "GetThingShadow", s.getThingShadow)
		rt.add(http.MethodPost, "/things/{thingName}/shadow", "UpdateThingShadow", s.updateThingShadow)
		rt.add(http.MethodDelete, "/things/{thingName}/shadow", "DeleteThingShadow", s.deleteThingShadow)
		rt.add(http.MethodGet, "/api/things/shadow/ListNamedShadowsForThing/{thingName}", "ListNamedShadowsForThing", s.listNamedShadowsForThing)
	}
	return rt
}

// jobsDataTable lists the operations of the jobs data plane (service iot-jobs-data,
// jobsdata.go), when there is a jobs service.
func (s *server) jobsDataTable() router {
	var rt router
	if s.cfg.Jobs != nil {
		s.addJobsDataRoutes(&rt)
	}
	return rt
}

// match finds the route for method and escaped path and returns it with the path variables.
// A path no route has, or a method the path does not accept, is an UnknownOperationException.
func (rt router) match(method, escapedPath string) (*route, map[string]string, error) {
	unknown := &apiError{
		status:  http.StatusNotFound,
		name:    "UnknownOperationException",
		message: fmt.Sprintf("no operation for %s %s", method, escapedPath),
	}
	if !strings.HasPrefix(escapedPath, "/") {
		return nil, nil, unknown
	}
	raw := strings.Split(escapedPath[1:], "/")
	segs := make([]string, len(raw))
	for i, seg := range raw {
		u, err := url.PathUnescape(seg)
		if err != nil {
			return nil, nil, invalidRequest("invalid path %q: %v", escapedPath, err)
		}
		segs[i] = u
	}
	for i := range rt {
		r := &rt[i]
		if r.method != method {
			continue
		}
		if vars, ok := r.bind(segs); ok {
			return r, vars, nil
		}
	}
	return nil, nil, unknown
}

// bind matches the unescaped segments against the route's pattern. A variable never matches
// an empty segment: AWS names are at least one character long. A greedy last variable
// ("{topic+}", Smithy's notation) binds the remaining segments joined by "/", empty levels
// included, as long as the whole is not empty.
func (r *route) bind(segs []string) (map[string]string, bool) {
	n := len(r.segs)
	last := r.segs[n-1]
	if !strings.HasSuffix(last, "+}") || len(segs) == n {
		return bindSegments(r.segs, segs)
	}
	if len(segs) < n {
		return nil, false
	}
	vars, ok := bindSegments(r.segs[:n-1], segs[:n-1])
	rest := strings.Join(segs[n-1:], "/")
	if !ok || rest == "" {
		return nil, false
	}
	if vars == nil {
		vars = make(map[string]string, 1)
	}
	vars[last[1:len(last)-2]] = rest
	return vars, true
}

// bindSegments matches segments one to one against pattern.
func bindSegments(pattern, segs []string) (map[string]string, bool) {
	if len(segs) != len(pattern) {
		return nil, false
	}
	var vars map[string]string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, false
			}
			if vars == nil {
				vars = make(map[string]string, 2)
			}
			vars[strings.TrimSuffix(p[1:len(p)-1], "+")] = segs[i]
			continue
		}
		if segs[i] != p {
			return nil, false
		}
	}
	return vars, true
}
