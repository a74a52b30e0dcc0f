package api

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/iotcore-local/iotcore-local/auth"
)

// This file decides, before any operation runs, who is calling and which API answers.
//
// AWS serves the control plane (service "iot"), the data plane ("iotdata") and the jobs data
// plane ("iot-jobs-data") on different hosts, and some of their paths are the same
// (GET /things/{thingName}/jobs is ListJobExecutionsForThing in one and
// GetPendingJobExecutions in another). The emulator serves them all on one address, so it routes
// a signed request by the service of its credential scope, as moto's server does:
//
//	iot, execute-api              → control plane (the AWS CLI signs some calls as execute-api)
//	iotdata, iotdevicegateway     → data plane (the model says iotdata, the docs say
//	                                iotdevicegateway; both are used)
//	iot-jobs-data                 → jobs data plane
//
// A request authenticated by a client certificate (the x-amzn-http-ca personality of 443, and
// 8443) reaches the data planes only, as on AWS. An unsigned request (curl, the admin verbs)
// is tried against the control plane, then the data plane, then the jobs data plane: the
// control plane wins the colliding paths, so unsigned scripts keep working as they did before
// the data plane existed. GET /health and /_iotcore/* belong to no plane: /health and the root
// CA answer everyone, /_iotcore/connections needs a SigV4 signature under SigV4Strict.
//
// Whatever the route, a request that is not strongly authenticated (a client certificate, or a
// SigV4 signature verified with a known key) must name the emulator in its Host header and come
// from no other origin: see crosssite.go.

// callerKind says how a request was authenticated.
type callerKind int

const (
	callerAnonymous   callerKind = iota // no signature (accepted unless SigV4Strict)
	callerSigV4                         // a SigV4 signature, verified when the key is known
	callerCertificate                   // a TLS client certificate
	callerCustomAuth                    // a custom authorizer's answer (HTTPS publish)
)

// caller is who made a request, as the operations see it.
type caller struct {
	kind        callerKind
	accessKey   string            // SigV4
	verified    bool              // SigV4: the signature was checked against a known secret
	service     string            // SigV4: the credential scope's service
	certificate *x509.Certificate // certificate callers
	principal   string            // custom-auth callers: the answer's principalId
	policies    *auth.Compiled    // custom-auth callers: the answer's policies
	// plane is the service name of the API that answered ("iot", "iotdata", "iot-jobs-data"),
	// or the comma-separated list of those tried when none had the operation.
	plane string
}

// PlaneHeader names, on every answer, the API that answered it: iot (control plane), iotdata
// (data plane) or iot-jobs-data, or the list tried when none had the operation. It shows where
// a request was routed (see dispatch). AWS sends no such header; AWS clients ignore it.
const PlaneHeader = "X-Iotcore-Plane"

type callerKey struct{}

// callerOf returns the caller dispatch recorded for r (anonymous when none was).
func callerOf(r *http.Request) caller {
	if c, ok := r.Context().Value(callerKey{}).(caller); ok {
		return c
	}
	return caller{}
}

// plane is one API: its routes and how it answers a path it has with another method.
type plane struct {
	name    string // for messages
	service string // the signing name, for PlaneHeader
	routes  router
	// methodNotAllowed: a known path with another method is a 405 MethodNotAllowedException
	// (the iot-data model has it); otherwise it is an UnknownOperationException, as the
	// control plane has always answered.
	methodNotAllowed bool
}

// Plane names, for logs and messages.
const (
	planeControl     = "control plane (iot)"
	planeData        = "data plane (iotdata)"
	planeJobsData    = "jobs data plane (iot-jobs-data)"
	planeCredentials = "credentials provider"
)

// planeFree reports whether the escaped path is one of the emulator's own routes, served to
// everyone whatever the plane and the authentication: /health must answer unauthenticated
// health checks, /_iotcore/* are the emulator's local diagnostics.
func planeFree(escapedPath string) bool {
	return escapedPath == "/health" || strings.HasPrefix(escapedPath, "/_iotcore/")
}

// dispatch authenticates r and finds its operation. It returns the route, the path variables
// and the request to hand to the operation (carrying the caller in its context).
func (s *server) dispatch(r *http.Request) (*route, map[string]string, *http.Request, error) {
	path := r.URL.EscapedPath()
	if planeFree(path) {
		return s.dispatchLocal(r, path)
	}

	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 && s.cfg.CustomAuthX509 != nil && s.cfg.CustomAuthX509(r) {
		who, ok, err := s.customAuthCaller(r)
		if !ok {
			err = forbidden("this domain configuration authenticates by CUSTOM_AUTH_X509, which serves HTTPS publish (POST /topics/{topic}) only")
		}
		if err != nil {
			return nil, nil, r, err
		}
		rt, vars, err := s.matchPlanes(&who, r.Method, path, s.data)
		return rt, vars, withCaller(r, who), err
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		who := caller{kind: callerCertificate, certificate: r.TLS.PeerCertificates[0]}
		rt, vars, err := s.matchPlanes(&who, r.Method, path, s.data, s.jobsData, s.creds)
		if isUnknownOperation(err) {
			if _, _, cerr := s.control.routes.match(r.Method, path); cerr == nil {
				err = &apiError{status: http.StatusForbidden, name: "ForbiddenException",
					message: "a client certificate authenticates data-plane requests only; the control plane (service iot) needs SigV4"}
			}
		}
		return rt, vars, withCaller(r, who), err
	}

	if _, _, err := s.creds.routes.match(r.Method, path); err == nil {
		return nil, nil, r, credentialsError(http.StatusForbidden, "AccessDeniedException",
			"the credentials provider authenticates with a client certificate only: call it over mutual TLS (443 with ALPN x-amzn-http-ca, or 8443)")
	}
	sig, err := parseSigV4(r)
	if err != nil {
		return nil, nil, r, err
	}
	if sig == nil {
		if who, ok, err := s.customAuthCaller(r); ok {
			if err != nil {
				return nil, nil, r, err
			}
			rt, vars, err := s.matchPlanes(&who, r.Method, path, s.data)
			return rt, vars, withCaller(r, who), err
		}
		if s.cfg.SigV4Strict {
			return nil, nil, r, sigError(http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
		}
		who := caller{kind: callerAnonymous}
		if err := s.checkBrowser(r, who); err != nil {
			return nil, nil, withCaller(r, who), err
		}
		rt, vars, err := s.matchPlanes(&who, r.Method, path, s.control, s.data, s.jobsData)
		return rt, vars, withCaller(r, who), err
	}

	p, err := s.planeFor(sig.service)
	if err != nil {
		return nil, nil, r, err
	}
	who, err := s.authenticate(r, sig)
	if err != nil {
		return nil, nil, r, err
	}
	if err := s.checkBrowser(r, who); err != nil {
		return nil, nil, withCaller(r, who), err
	}
	rt, vars, err := s.matchPlanes(&who, r.Method, path, p)
	return rt, vars, withCaller(r, who), err
}

// dispatchLocal finds an emulator route (planeFree). /health and the root CA answer everyone;
// the others (the connection transcripts: client ids, certificate ids, addresses) get the
// Host/Origin checks of crosssite.go and, under SigV4Strict, need a verified SigV4 signature
// (with any service in its scope): neither an unsigned request nor a device certificate is
// enough to list every device's connections.
func (s *server) dispatchLocal(r *http.Request, path string) (*route, map[string]string, *http.Request, error) {
	rt, vars, err := s.control.routes.match(r.Method, path)
	if err != nil || publicRoute(rt.op) {
		return rt, vars, r, err
	}
	who := caller{kind: callerAnonymous}
	sig, err := parseSigV4(r)
	switch {
	case err != nil:
		return nil, nil, r, err
	case sig != nil:
		if who, err = s.authenticate(r, sig); err != nil {
			return nil, nil, r, err
		}
	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
		who = caller{kind: callerCertificate, certificate: r.TLS.PeerCertificates[0]}
	}
	if s.cfg.SigV4Strict && who.kind != callerSigV4 {
		return nil, nil, withCaller(r, who), sigError(http.StatusForbidden, "MissingAuthenticationTokenException",
			"Missing Authentication Token: under --sigv4-strict %s needs a SigV4 signature made with a key pair given with --credentials", path)
	}
	if err := s.checkBrowser(r, who); err != nil {
		return nil, nil, withCaller(r, who), err
	}
	return rt, vars, withCaller(r, who), nil
}

// planeFor maps a credential scope's service to its API.
func (s *server) planeFor(service string) (plane, error) {
	switch service {
	case "iot", "execute-api":
		return s.control, nil
	case "iotdata", "iotdevicegateway":
		return s.data, nil
	case "iot-jobs-data":
		return s.jobsData, nil
	}
	return plane{}, invalidSignature("Credential should be scoped to correct service: 'iot'. The emulator serves the services iot and execute-api (control plane), iotdata and iotdevicegateway (data plane) and iot-jobs-data (jobs), not '%s'.", service)
}

// authenticate checks a parsed signature: a known access key must have signed the request
// within the clock skew; an unknown key is refused under SigV4Strict and accepted otherwise.
func (s *server) authenticate(r *http.Request, sig *sigV4) (caller, error) {
	who := caller{kind: callerSigV4, accessKey: sig.accessKey, service: sig.service}
	secret, known := s.cfg.Credentials[sig.accessKey]
	if !known {
		var err error
		if secret, known, err = s.temporarySecret(sig); err != nil {
			return who, err
		}
	}
	if !known {
		if s.cfg.SigV4Strict {
			s.log.Warn("api: unknown access key refused (--sigv4-strict)", "access_key", sig.accessKey)
			return who, sigError(http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
		}
		s.log.Debug("api: unknown access key accepted without verification", "access_key", sig.accessKey, "service", sig.service)
		return who, nil
	}
	if err := sig.checkTime(s.now()); err != nil {
		return who, err
	}
	if err := sig.verify(r, secret); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.name == "InvalidSignatureException" {
			s.log.Warn("api: signature does not verify", "access_key", sig.accessKey, "scope", sig.scope(),
				"presigned", sig.presigned, "detail", ae.message)
		}
		return who, err
	}
	who.verified = true
	return who, nil
}

// matchPlanes finds the operation in the first plane that has it and records that plane in
// who. When none has it, the answer is a 405 if some plane that answers so has the path with
// another method, else the first plane's error; who then records every plane tried.
func (s *server) matchPlanes(who *caller, method, path string, planes ...plane) (*route, map[string]string, error) {
	var (
		first error
		tried []string
	)
	for _, p := range planes {
		rt, vars, err := p.routes.match(method, path)
		if err == nil {
			who.plane = p.service
			return rt, vars, nil
		}
		if !isUnknownOperation(err) {
			who.plane = p.service
			return nil, nil, err
		}
		tried = append(tried, p.service)
		if first == nil {
			first = err
		}
	}
	who.plane = strings.Join(tried, ",")
	for _, p := range planes {
		if p.methodNotAllowed && p.routes.hasPath(path) {
			who.plane = p.service
			return nil, nil, &apiError{status: http.StatusMethodNotAllowed, name: "MethodNotAllowedException",
				message: fmt.Sprintf("the %s does not accept %s on %s", p.name, method, path)}
		}
	}
	if first == nil {
		first = &apiError{status: http.StatusNotFound, name: "UnknownOperationException",
			message: fmt.Sprintf("no operation for %s %s", method, path)}
	}
	return nil, nil, first
}

// hasPath reports whether some route of the table matches the escaped path, whatever its method.
func (rt router) hasPath(escapedPath string) bool {
	tried := map[string]bool{}
	for i := range rt {
		m := rt[i].method
		if tried[m] {
			continue
		}
		tried[m] = true
		if _, _, err := rt.match(m, escapedPath); err == nil {
			return true
		}
	}
	return false
}

// isUnknownOperation reports whether err is the router's "no such operation".
func isUnknownOperation(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.name == "UnknownOperationException"
}

func withCaller(r *http.Request, c caller) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
}
