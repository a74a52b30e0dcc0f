package api

import (
	"net/http"
	"strings"
)

// signingRegion returns the region of a SigV4 Authorization header's credential scope
// (Credential=AKID/DATE/REGION/SERVICE/aws4_request), or "" when there is none.
func signingRegion(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return ""
	}
	for _, part := range strings.Split(auth[len(algo):], ",") {
		cred, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential=")
		if !ok {
			continue
		}
		scope := strings.Split(cred, "/")
		if len(scope) != 5 {
			return ""
		}
		return scope[2]
	}
	return ""
}

// checkRegion warns, once per region, when a request is signed for a region other than the
// emulator's. The request is served anyway from the one registry (whose ARNs carry the
// emulator's region): an emulator that answered "not found" to a client merely configured for
// another region would be harder to use than one that says so in its log. Signatures are not
// verified.
func (s *server) checkRegion(r *http.Request) {
	region := signingRegion(r)
	if region == "" || region == s.cfg.Region {
		return
	}
	if _, seen := s.warnedRegions.LoadOrStore(region, true); !seen {
		s.log.Warn("api: request signed for another region; serving it from this emulator's registry",
			"signed_region", region, "emulator_region", s.cfg.Region)
	}
}
