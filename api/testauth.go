package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/registry"
)

// testAuthorizationRequest is TestAuthorization's JSON body.
type testAuthorizationRequest struct {
	Principal             *string    `json:"principal"`
	CognitoIdentityPoolID *string    `json:"cognitoIdentityPoolId"`
	AuthInfos             []authInfo `json:"authInfos"`
	PolicyNamesToAdd      []string   `json:"policyNamesToAdd"`
	PolicyNamesToSkip     []string   `json:"policyNamesToSkip"`
}

// authInfo is one question of TestAuthorization: may the principal do actionType on each of the
// resources (full ARNs)? It is echoed in the answer.
type authInfo struct {
	ActionType string   `json:"actionType,omitempty"`
	Resources  []string `json:"resources"`
}

// testAuthorizationResponse is TestAuthorization's output: one authResult per authInfo, in order.
type testAuthorizationResponse struct {
	AuthResults []authResult `json:"authResults"`
}

// authResult answers one authInfo. Every policy considered is listed exactly once: under
// explicitDeny if it denies any of the resources, else under implicitDeny if it allows not all of
// them, else under allowed.
type authResult struct {
	AuthInfo             authInfo   `json:"authInfo"`
	Allowed              policyRefs `json:"allowed"`
	Denied               denied     `json:"denied"`
	AuthDecision         string     `json:"authDecision"`
	MissingContextValues []string   `json:"missingContextValues"`
}

// policyRefs is the {policies: [...]} of Allowed, ImplicitDeny and ExplicitDeny.
type policyRefs struct {
	Policies []policySummary `json:"policies"`
}

// denied is AuthResult's denied member.
type denied struct {
	ImplicitDeny policyRefs `json:"implicitDeny"`
	ExplicitDeny policyRefs `json:"explicitDeny"`
}

// The AuthDecision values, ordered so that the larger is the answer for several resources.
const (
	decisionAllowed      = "ALLOWED"
	decisionImplicitDeny = "IMPLICIT_DENY"
	decisionExplicitDeny = "EXPLICIT_DENY"
)

var decisionRank = map[string]int{decisionAllowed: 0, decisionImplicitDeny: 1, decisionExplicitDeny: 2}

// actionTypes maps AuthInfo.actionType to the policy action it tests. RETAIN is the emulator's
// extension (AWS's enum has the first four): it tests iot:RetainPublish, which a retained
// PUBLISH needs besides iot:Publish.
var actionTypes = map[string]string{
	"PUBLISH":   auth.ActionPublish,
	"SUBSCRIBE": auth.ActionSubscribe,
	"RECEIVE":   auth.ActionReceive,
	"CONNECT":   auth.ActionConnect,
	"RETAIN":    auth.ActionRetainPublish,
}

// Limits of the TestAuthorization model.
const (
	maxAuthInfos      = 10
	maxResourceLength = 2048
)

// ExplanationHeader carries, on a TestAuthorization answer, one line per resource saying why it
// was decided so (the statement that allowed or denied, or the nearest candidate of a default
// deny), plus notes on the certificate and the thing binding. Each value is a Go-quoted ASCII
// string (strconv.QuoteToASCII), so any topic survives the header. AWS sends no such header;
// AWS clients ignore it.
const ExplanationHeader = "X-Iotcore-Explanation"

// question is one resource of one authInfo, parsed.
type question struct {
	arn                        string
	partition, region, account string
	resourceType, name         string
}

// testAuthorization is TestAuthorization: POST /test-authorization?clientId. It compiles the
// certificate's policies and those its bound thing receives from its thing groups (plus
// policyNamesToAdd, minus policyNamesToSkip) with the environment a connection with that
// certificate and client ID would have, and decides each resource as the broker would.
func (s *server) testAuthorization(c *call) (any, error) {
	var in testAuthorizationRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	actions, questions, err := parseAuthInfos(in.AuthInfos)
	if err != nil {
		return nil, err
	}
	certID, err := s.principalCertificate(in.Principal, in.CognitoIdentityPoolID)
	if err != nil {
		return nil, err
	}
	view, err := s.reg.CertificateIdentity(certID)
	if err != nil {
		return nil, fmt.Errorf("test authorization of %s: %w", certID, err)
	}
	clientID := c.query("clientId")
	base := auth.Environment{Partition: "aws", Region: s.cfg.Region, Account: s.cfg.Account}
	env := auth.BindThing(view, clientID, base, s.reg.DescribeThing)
	policies, err := s.policiesToTest(auth.PoliciesInForce(view, env.ThingName), in.PolicyNamesToAdd, in.PolicyNamesToSkip)
	if err != nil {
		return nil, err
	}
	ev := newEvaluator(policies, env)

	out := testAuthorizationResponse{AuthResults: make([]authResult, 0, len(in.AuthInfos))}
	notes := s.identityNotes(view, env, ev)
	for i, info := range in.AuthInfos {
		res, lines := ev.answer(actions[i], info, questions[i])
		out.AuthResults = append(out.AuthResults, res)
		for j, line := range lines {
			s.log.Info("api: test authorization", "certificate", view.Certificate.ID, "client", clientID,
				"action", actions[i], "resource", questions[i][j].arn, "reason", line)
			notes = append(notes, fmt.Sprintf("authInfos[%d].resources[%d]: %s", i, j, line))
		}
	}
	h := http.Header{}
	for _, n := range notes {
		h.Add(ExplanationHeader, strconv.QuoteToASCII(n))
	}
	return withHeaders{header: h, body: out}, nil
}

// parseAuthInfos checks the questions and splits every resource ARN. It returns the action of
// each authInfo and its parsed resources.
func parseAuthInfos(infos []authInfo) ([]string, [][]question, error) {
	if len(infos) == 0 || len(infos) > maxAuthInfos {
		return nil, nil, invalidRequest("authInfos: between 1 and %d required, got %d", maxAuthInfos, len(infos))
	}
	actions := make([]string, len(infos))
	questions := make([][]question, len(infos))
	for i, info := range infos {
		if info.ActionType == "" {
			return nil, nil, invalidRequest("authInfos[%d].actionType: required (PUBLISH, SUBSCRIBE, RECEIVE or CONNECT)", i)
		}
		action, ok := actionTypes[info.ActionType]
		if !ok {
			return nil, nil, invalidRequest("authInfos[%d].actionType: %q is not PUBLISH, SUBSCRIBE, RECEIVE or CONNECT (or RETAIN, the emulator's name for iot:RetainPublish)", i, info.ActionType)
		}
		actions[i] = action
		if len(info.Resources) == 0 {
			return nil, nil, invalidRequest("authInfos[%d].resources: at least one resource ARN required", i)
		}
		for j, r := range info.Resources {
			q, err := parseResourceARN(r)
			if err != nil {
				return nil, nil, invalidRequest("authInfos[%d].resources[%d]: %v", i, j, err)
			}
			questions[i] = append(questions[i], q)
		}
	}
	return actions, questions, nil
}

// parseResourceARN splits arn:PARTITION:iot:REGION:ACCOUNT:TYPE/NAME.
func parseResourceARN(arn string) (question, error) {
	if len(arn) > maxResourceLength {
		return question{}, fmt.Errorf("%d characters, at most %d are allowed", len(arn), maxResourceLength)
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iot" {
		return question{}, fmt.Errorf("%q is not an AWS IoT resource ARN (arn:aws:iot:REGION:ACCOUNT:TYPE/NAME, e.g. topic/a/b)", arn)
	}
	typ, name, ok := strings.Cut(parts[5], "/")
	if !ok || typ == "" {
		return question{}, fmt.Errorf("%q has no TYPE/NAME resource part (e.g. topic/a/b, client/c)", arn)
	}
	return question{arn: arn, partition: parts[1], region: parts[3], account: parts[4], resourceType: typ, name: name}, nil
}

// principalCertificate returns the certificate ID a TestAuthorization principal names: a
// certificate ARN of this emulator's region and account, or a bare certificate ID. Cognito
// identities and thing groups are not modelled.
func (s *server) principalCertificate(principal, cognitoPool *string) (string, error) {
	if cognitoPool != nil && *cognitoPool != "" {
		return "", invalidRequest("cognitoIdentityPoolId: Cognito identities are not supported by the emulator; give a certificate principal")
	}
	if principal == nil || *principal == "" {
		return "", invalidRequest("principal: required (a certificate ARN or certificate ID)")
	}
	p := *principal
	if !strings.HasPrefix(p, "arn:") {
		return p, nil // the registry checks the ID's form
	}
	parts := strings.SplitN(p, ":", 6)
	if len(parts) != 6 || parts[2] != "iot" || !strings.HasPrefix(parts[5], "cert/") {
		return "", invalidRequest("principal: %q is not a certificate ARN (arn:aws:iot:REGION:ACCOUNT:cert/ID); the emulator tests certificate principals only", p)
	}
	if parts[1] != "aws" || parts[3] != s.cfg.Region || parts[4] != s.cfg.Account {
		return "", notFound("The certificate given in the principal does not exist in region %s, account %s", s.cfg.Region, s.cfg.Account)
	}
	return strings.TrimPrefix(parts[5], "cert/"), nil
}

// policiesToTest is the attached policies without those to skip, plus those to add (which must
// exist). A name both added and skipped is skipped.
func (s *server) policiesToTest(attached []registry.Policy, add, skip []string) ([]registry.Policy, error) {
	skipped := make(map[string]bool, len(skip))
	for _, n := range skip {
		skipped[n] = true
	}
	seen := make(map[string]bool, len(attached)+len(add))
	var out []registry.Policy
	for _, p := range attached {
		if !skipped[p.Name] {
			out = append(out, p)
		}
		seen[p.Name] = true
	}
	for i, name := range add {
		if seen[name] || skipped[name] {
			continue
		}
		seen[name] = true
		p, err := s.reg.GetPolicy(name)
		if err != nil {
			return nil, fmt.Errorf("policyNamesToAdd[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// identityNotes explains what the decisions below rest on when it is not the obvious: a
// certificate that could not connect at all, a thing that is attached but not bound, policies
// that do not parse.
func (s *server) identityNotes(view registry.CertificateView, env auth.Environment, ev *evaluator) []string {
	var notes []string
	if st := view.Certificate.Status; st != registry.StatusActive {
		notes = append(notes, fmt.Sprintf("certificate %s is %s: a device presenting it cannot connect at all, whatever its policies allow", view.Certificate.ID, st))
	}
	if env.ThingName == "" && len(view.Things) > 0 {
		names := make([]string, 0, len(view.Things))
		for _, t := range view.Things {
			names = append(names, t.ThingName)
		}
		notes = append(notes, fmt.Sprintf("no thing is bound, so ${iot:Connection.Thing.*} stays unresolved: the certificate is attached non-exclusively to %s and none is named like client ID %q",
			strings.Join(names, ", "), env.ClientID))
	}
	return append(notes, ev.broken...)
}

// evaluator answers the questions of one TestAuthorization for one set of policies and one
// environment. Resource patterns are checked against the ARN prefix at compile time, so the
// policies are compiled once per partition, region and account the questions name: a resource
// of another region or account is then decided exactly as IAM would (only "*"-like patterns
// reach it).
type evaluator struct {
	policies []registry.Policy
	docs     []*auth.Document // parallel to policies; nil when the document does not parse
	broken   []string         // notes on the policies whose documents do not parse
	env      auth.Environment
	compiled map[string]*compiledSet
}

// compiledSet is the policies compiled for one ARN prefix: all together (for the decision and
// its explanation) and each alone (to say which policy allows or denies).
type compiledSet struct {
	all  *auth.Compiled
	each []*auth.Compiled
}

func newEvaluator(policies []registry.Policy, env auth.Environment) *evaluator {
	ev := &evaluator{policies: policies, docs: make([]*auth.Document, len(policies)), env: env, compiled: map[string]*compiledSet{}}
	for i, p := range policies {
		doc, err := auth.ParseDocument(p.Document)
		if err != nil {
			// The registry validates documents when it is configured to; one stored without
			// that check decides nothing, as the broker skips it.
			ev.broken = append(ev.broken, fmt.Sprintf("policy %q is ignored: its document does not parse: %v", p.Name, err))
			continue
		}
		ev.docs[i] = doc
	}
	return ev
}

// set returns the policies compiled for the ARN prefix of q.
func (ev *evaluator) set(q question) *compiledSet {
	key := q.partition + ":" + q.region + ":" + q.account
	if cs, ok := ev.compiled[key]; ok {
		return cs
	}
	env := ev.env
	env.Partition, env.Region, env.Account = q.partition, q.region, q.account
	cs := &compiledSet{each: make([]*auth.Compiled, len(ev.policies))}
	var all []auth.NamedDocument
	for i, p := range ev.policies {
		if ev.docs[i] == nil {
			continue
		}
		nd := auth.NamedDocument{Name: p.Name, Document: ev.docs[i]}
		all = append(all, nd)
		cs.each[i] = auth.Compile([]auth.NamedDocument{nd}, env)
	}
	cs.all = auth.Compile(all, env)
	ev.compiled[key] = cs
	return cs
}

// answer decides one authInfo: the decision is the least favourable over its resources. It
// returns the result and one explanation per resource.
func (ev *evaluator) answer(action string, info authInfo, qs []question) (authResult, []string) {
	var (
		decision = decisionAllowed
		denies   = make([]bool, len(ev.policies)) // the policy explicitly denies some resource
		misses   = make([]bool, len(ev.policies)) // the policy does not allow some resource
		lines    = make([]string, 0, len(qs))
	)
	for _, q := range qs {
		cs := ev.set(q)
		d := cs.all.Explain(action, q.resourceType, q.name)
		lines = append(lines, d.Reason)
		got := decisionImplicitDeny
		switch {
		case d.Allowed:
			got = decisionAllowed
		case d.Policy != "":
			got = decisionExplicitDeny
		}
		if decisionRank[got] > decisionRank[decision] {
			decision = got
		}
		for i, c := range cs.each {
			if c == nil {
				misses[i] = true
				continue
			}
			switch pd := c.Decide(action, q.resourceType, q.name); {
			case pd.Allowed:
			case pd.Policy != "":
				denies[i] = true
			default:
				misses[i] = true
			}
		}
	}
	res := authResult{
		AuthInfo:             info,
		Allowed:              policyRefs{Policies: []policySummary{}},
		Denied:               denied{ImplicitDeny: policyRefs{Policies: []policySummary{}}, ExplicitDeny: policyRefs{Policies: []policySummary{}}},
		AuthDecision:         decision,
		MissingContextValues: []string{},
	}
	for i, p := range ev.policies {
		ref := policySummary{PolicyName: p.Name, PolicyArn: p.ARN}
		switch {
		case denies[i]:
			res.Denied.ExplicitDeny.Policies = append(res.Denied.ExplicitDeny.Policies, ref)
		case misses[i]:
			res.Denied.ImplicitDeny.Policies = append(res.Denied.ImplicitDeny.Policies, ref)
		default:
			res.Allowed.Policies = append(res.Allowed.Policies, ref)
		}
	}
	return res, lines
}
