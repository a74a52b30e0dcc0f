package registry

// CreatePolicy stores a new policy (version "1"). ErrAlreadyExists if the name is taken,
// ErrMalformedPolicy if the document is refused.
func (r *Registry) CreatePolicy(name, document string) (Policy, error) { panic("not implemented") }

// GetPolicy returns a policy or ErrNotFound.
func (r *Registry) GetPolicy(name string) (Policy, error) { panic("not implemented") }

// ListPolicies pages policies by name; the returned marker is empty on the last page.
func (r *Registry) ListPolicies(marker string, pageSize int, ascending bool) ([]Policy, string, error) {
	panic("not implemented")
}

// DeletePolicy deletes a policy; ErrDeleteConflict while it is attached.
func (r *Registry) DeletePolicy(name string) error { panic("not implemented") }
