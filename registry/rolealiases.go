package registry

import (
	"regexp"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// RoleAlias names an IAM role that devices exchange their certificate for temporary
// credentials of (the AWS IoT credentials provider). The emulator has no IAM: the role ARN is
// stored and echoed, and the credentials the emulator issues are its own.
type RoleAlias struct {
	Name             string    `json:"name"`
	ARN              string    `json:"arn"`
	RoleARN          string    `json:"roleArn"`
	DurationSeconds  int       `json:"credentialDurationSeconds"`
	CreationDate     time.Time `json:"creationDate"`
	LastModifiedDate time.Time `json:"lastModifiedDate"`
}

// Limits of role aliases in the AWS IoT model.
const (
	DefaultCredentialDuration = 3600
	minCredentialDuration     = 900
	maxCredentialDuration     = 43200
	maxRoleAliasLen           = 128
)

var (
	bucketRoleAliases = []byte("roleAliases") // role alias name -> RoleAlias
	roleAliasPattern  = regexp.MustCompile(`^[\w=,@-]+$`)
)

// RoleAliasARN builds the ARN of the named role alias.
func (r *Registry) RoleAliasARN(name string) string { return r.arn("rolealias/" + name) }

func validRoleAliasName(name string) error {
	if len(name) < 1 || len(name) > maxRoleAliasLen || !roleAliasPattern.MatchString(name) {
		return newError(ErrInvalidRequest, "Invalid roleAlias %q: it must be 1 to %d characters of letters, digits, _ = , @ -", name, maxRoleAliasLen)
	}
	return nil
}

func validRoleARN(arn string) error {
	if len(arn) < 20 || len(arn) > 2048 {
		return newError(ErrInvalidRequest, "Invalid roleArn %q: it must be 20 to 2048 characters long", arn)
	}
	return nil
}

func validCredentialDuration(d int) error {
	if d < minCredentialDuration || d > maxCredentialDuration {
		return newError(ErrInvalidRequest, "Invalid credentialDurationSeconds %d: it must be between %d and %d", d, minCredentialDuration, maxCredentialDuration)
	}
	return nil
}

// CreateRoleAliasInput is the input of CreateRoleAlias; DurationSeconds 0 means 3600.
type CreateRoleAliasInput struct {
	Name            string
	RoleARN         string
	DurationSeconds int
	Tags            []Tag
}

// CreateRoleAlias creates a role alias; an existing name is ErrAlreadyExists.
func (r *Registry) CreateRoleAlias(in CreateRoleAliasInput) (RoleAlias, error) {
	if err := validRoleAliasName(in.Name); err != nil {
		return RoleAlias{}, err
	}
	if err := validRoleARN(in.RoleARN); err != nil {
		return RoleAlias{}, err
	}
	if in.DurationSeconds == 0 {
		in.DurationSeconds = DefaultCredentialDuration
	}
	if err := validCredentialDuration(in.DurationSeconds); err != nil {
		return RoleAlias{}, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return RoleAlias{}, err
	}
	now := r.nowUTC()
	out := RoleAlias{Name: in.Name, ARN: r.RoleAliasARN(in.Name), RoleARN: in.RoleARN,
		DurationSeconds: in.DurationSeconds, CreationDate: now, LastModifiedDate: now}
	err = r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		if tx.Bucket(bucketRoleAliases).Get([]byte(in.Name)) != nil {
			return alreadyExists(in.Name, out.ARN, "Role alias %s already exists", in.Name)
		}
		if err := putJSON(tx.Bucket(bucketRoleAliases), in.Name, out); err != nil {
			return err
		}
		return putTags(tx, out.ARN, tags)
	})
	if err != nil {
		return RoleAlias{}, err
	}
	return out, nil
}

func getRoleAlias(tx *bbolt.Tx, name string) (RoleAlias, error) {
	return getRecord[RoleAlias](tx, bucketRoleAliases, name, "Role alias %s does not exist")
}

// DescribeRoleAlias returns a role alias or ErrNotFound.
func (r *Registry) DescribeRoleAlias(name string) (RoleAlias, error) {
	if err := validRoleAliasName(name); err != nil {
		return RoleAlias{}, err
	}
	var out RoleAlias
	err := r.view(func(tx *bbolt.Tx) error {
		var err error
		out, err = getRoleAlias(tx, name)
		return err
	})
	return out, err
}

// UpdateRoleAlias changes the role ARN and/or the credential duration of a role alias; a nil
// field is left as it is.
func (r *Registry) UpdateRoleAlias(name string, roleARN *string, durationSeconds *int) (RoleAlias, error) {
	if err := validRoleAliasName(name); err != nil {
		return RoleAlias{}, err
	}
	if roleARN != nil {
		if err := validRoleARN(*roleARN); err != nil {
			return RoleAlias{}, err
		}
	}
	if durationSeconds != nil {
		if err := validCredentialDuration(*durationSeconds); err != nil {
			return RoleAlias{}, err
		}
	}
	var out RoleAlias
	err := r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		a, err := getRoleAlias(tx, name)
		if err != nil {
			return err
		}
		if roleARN != nil {
			a.RoleARN = *roleARN
		}
		if durationSeconds != nil {
			a.DurationSeconds = *durationSeconds
		}
		a.LastModifiedDate = r.nowUTC()
		out = a
		return putJSON(tx.Bucket(bucketRoleAliases), name, a)
	})
	return out, err
}

// DeleteRoleAlias deletes a role alias and its tags; a missing one is ErrNotFound.
func (r *Registry) DeleteRoleAlias(name string) error {
	if err := validRoleAliasName(name); err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		a, err := getRoleAlias(tx, name)
		if err != nil {
			return err
		}
		if err := delKey(tx.Bucket(bucketRoleAliases), []byte(name)); err != nil {
			return err
		}
		return deleteTags(tx, a.ARN)
	})
}

// ListRoleAliases returns the names of every role alias, sorted.
func (r *Registry) ListRoleAliases() ([]string, error) {
	var names []string
	err := r.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRoleAliases).ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	slices.Sort(names)
	return names, err
}
