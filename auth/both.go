package auth

// Both returns the policy set that allows an action only where a and b both allow it: the least
// privilege of the two, as AWS IoT applies to an authenticated Cognito identity (its IAM policy
// and the IoT policies attached to its identity id). label names b in explanations, e.g. "the
// IoT policies of Cognito identity us-east-1:…:". A nil b returns a.
func Both(a, b *Compiled, label string) *Compiled {
	if b == nil {
		return a
	}
	if a == nil {
		a = &Compiled{}
	}
	c := *a
	if c.and != nil {
		c.and = Both(c.and, b, label)
		return &c
	}
	c.and, c.andLabel = b, label
	return &c
}

// AllowAll is the policy set of a principal that no policy restricts (an access key configured
// without policy or identity): every iot: action on every resource of the connection's account.
func AllowAll(env Environment) *Compiled {
	doc, err := ParseDocument(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)
	if err != nil {
		panic("auth: the allow-all document does not parse: " + err.Error())
	}
	return Compile([]NamedDocument{{Name: "(access key without policy)", Document: doc}}, env)
}
