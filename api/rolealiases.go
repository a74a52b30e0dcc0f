package api

import (
	"encoding/base64"
	"fmt"
	"slices"
	"sort"

	"github.com/iotcore-local/iotcore-local/registry"
)

// createRoleAliasRequest is CreateRoleAlias's JSON body.
type createRoleAliasRequest struct {
	RoleArn                   *string `json:"roleArn"`
	CredentialDurationSeconds *int    `json:"credentialDurationSeconds"`
	Tags                      []tag   `json:"tags"`
}

// roleAliasRef is the output of CreateRoleAlias and UpdateRoleAlias.
type roleAliasRef struct {
	RoleAlias    string `json:"roleAlias"`
	RoleAliasArn string `json:"roleAliasArn"`
}

// createRoleAlias is CreateRoleAlias: POST /role-aliases/{roleAlias}.
func (s *server) createRoleAlias(c *call) (any, error) {
	var in createRoleAliasRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.RoleArn == nil {
		return nil, invalidRequest("roleArn: required")
	}
	ci := registry.CreateRoleAliasInput{Name: c.vars["roleAlias"], RoleARN: *in.RoleArn, Tags: registryTags(in.Tags)}
	if in.CredentialDurationSeconds != nil {
		if *in.CredentialDurationSeconds == 0 {
			return nil, invalidRequest("credentialDurationSeconds: must be between 900 and 43200")
		}
		ci.DurationSeconds = *in.CredentialDurationSeconds
	}
	a, err := s.reg.CreateRoleAlias(ci)
	if err != nil {
		return nil, fmt.Errorf("create role alias %q: %w", ci.Name, err)
	}
	return roleAliasRef{RoleAlias: a.Name, RoleAliasArn: a.ARN}, nil
}

// roleAliasDescription is RoleAliasDescription.
type roleAliasDescription struct {
	RoleAlias                 string       `json:"roleAlias"`
	RoleAliasArn              string       `json:"roleAliasArn"`
	RoleArn                   string       `json:"roleArn"`
	Owner                     string       `json:"owner"`
	CredentialDurationSeconds int          `json:"credentialDurationSeconds"`
	CreationDate              epochSeconds `json:"creationDate,omitzero"`
	LastModifiedDate          epochSeconds `json:"lastModifiedDate,omitzero"`
}

type describeRoleAliasResponse struct {
	RoleAliasDescription roleAliasDescription `json:"roleAliasDescription"`
}

// describeRoleAlias is DescribeRoleAlias: GET /role-aliases/{roleAlias}.
func (s *server) describeRoleAlias(c *call) (any, error) {
	name := c.vars["roleAlias"]
	a, err := s.reg.DescribeRoleAlias(name)
	if err != nil {
		return nil, fmt.Errorf("describe role alias %q: %w", name, err)
	}
	return describeRoleAliasResponse{RoleAliasDescription: roleAliasDescription{
		RoleAlias: a.Name, RoleAliasArn: a.ARN, RoleArn: a.RoleARN, Owner: s.cfg.Account,
		CredentialDurationSeconds: a.DurationSeconds,
		CreationDate:              epochSeconds(a.CreationDate), LastModifiedDate: epochSeconds(a.LastModifiedDate),
	}}, nil
}

// updateRoleAliasRequest is UpdateRoleAlias's JSON body; both members are optional (Terraform
// sends them in two separate calls).
type updateRoleAliasRequest struct {
	RoleArn                   *string `json:"roleArn"`
	CredentialDurationSeconds *int    `json:"credentialDurationSeconds"`
}

// updateRoleAlias is UpdateRoleAlias: PUT /role-aliases/{roleAlias}.
func (s *server) updateRoleAlias(c *call) (any, error) {
	var in updateRoleAliasRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	name := c.vars["roleAlias"]
	a, err := s.reg.UpdateRoleAlias(name, in.RoleArn, in.CredentialDurationSeconds)
	if err != nil {
		return nil, fmt.Errorf("update role alias %q: %w", name, err)
	}
	return roleAliasRef{RoleAlias: a.Name, RoleAliasArn: a.ARN}, nil
}

// deleteRoleAlias is DeleteRoleAlias: DELETE /role-aliases/{roleAlias}.
func (s *server) deleteRoleAlias(c *call) (any, error) {
	name := c.vars["roleAlias"]
	if err := s.reg.DeleteRoleAlias(name); err != nil {
		return nil, fmt.Errorf("delete role alias %q: %w", name, err)
	}
	return empty{}, nil
}

type listRoleAliasesResponse struct {
	RoleAliases []string `json:"roleAliases"`
	NextMarker  string   `json:"nextMarker,omitempty"`
}

// listRoleAliases is ListRoleAliases: GET /role-aliases?pageSize&marker&isAscendingOrder. The
// names are listed in descending order unless isAscendingOrder (as AWS's marker-paged lists
// do); the marker is the base64 of the next page's first name.
func (s *server) listRoleAliases(c *call) (any, error) {
	pageSize, ascending, err := markerPaging(c)
	if err != nil {
		return nil, err
	}
	names, err := s.reg.ListRoleAliases()
	if err != nil {
		return nil, fmt.Errorf("list role aliases: %w", err)
	}
	if !ascending {
		slices.Reverse(names)
	}
	start := 0
	if m := c.query("marker"); m != "" {
		b, err := base64.StdEncoding.DecodeString(m)
		if err != nil || len(b) == 0 {
			return nil, invalidRequest("marker: not a marker this API returned: %q", m)
		}
		from := string(b)
		start = sort.Search(len(names), func(i int) bool {
			if ascending {
				return names[i] >= from
			}
			return names[i] <= from
		})
	}
	page := names[start:]
	next := ""
	if len(page) > pageSize {
		next = base64.StdEncoding.EncodeToString([]byte(page[pageSize]))
		page = page[:pageSize]
	}
	return listRoleAliasesResponse{RoleAliases: nonNilStrings(page), NextMarker: next}, nil
}
