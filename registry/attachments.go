package registry

// AttachPolicy attaches a policy to a target (a certificate ARN). Idempotent.
func (r *Registry) AttachPolicy(policyName, target string) error { panic("not implemented") }

// DetachPolicy detaches a policy from a target. Idempotent.
func (r *Registry) DetachPolicy(policyName, target string) error { panic("not implemented") }

// ListAttachedPolicies lists the policies attached to a target.
func (r *Registry) ListAttachedPolicies(target string) ([]Policy, error) { panic("not implemented") }

// AttachThingPrincipal attaches a principal (certificate ARN) to a thing.
func (r *Registry) AttachThingPrincipal(thingName, principal string, typ ThingPrincipalType) error {
	panic("not implemented")
}

// DetachThingPrincipal detaches a principal from a thing.
func (r *Registry) DetachThingPrincipal(thingName, principal string) error { panic("not implemented") }

// ListThingPrincipals pages the principals attached to a thing.
func (r *Registry) ListThingPrincipals(thingName, nextToken string, maxResults int) ([]string, string, error) {
	panic("not implemented")
}

// ListPrincipalThings pages the names of the things attached to a principal.
func (r *Registry) ListPrincipalThings(principal, nextToken string, maxResults int) ([]string, string, error) {
	panic("not implemented")
}
