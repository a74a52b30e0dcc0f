package jobs

import (
	"errors"

	"github.com/iotcore-local/iotcore-local/registry"
)

// RegistryDirectory is the Directory of a registry.
func RegistryDirectory(r *registry.Registry) Directory { return regDir{r} }

type regDir struct{ r *registry.Registry }

func (d regDir) ThingExists(name string) (bool, error) {
	_, err := d.r.DescribeThing(name)
	return exists(err)
}

func (d regDir) GroupExists(name string) (bool, error) {
	_, err := d.r.DescribeThingGroup(name)
	return exists(err)
}

func exists(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, registry.ErrInvalidRequest):
		return false, nil
	}
	return false, err
}

func (d regDir) ThingsInGroup(name string) ([]string, error) {
	var out []string
	next := ""
	for {
		page, tok, err := d.r.ListThingsInThingGroup(name, true, next, 250)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if tok == "" {
			return out, nil
		}
		next = tok
	}
}

func (d regDir) GroupsOfThing(name string) ([]string, error) {
	var out []string
	next := ""
	for {
		page, tok, err := d.r.ListThingGroupsForThing(name, next, 250)
		if err != nil {
			if errors.Is(err, registry.ErrNotFound) {
				return nil, nil
			}
			return nil, err
		}
		for _, g := range page {
			out = append(out, g.GroupName)
		}
		if tok == "" {
			return out, nil
		}
		next = tok
	}
}

func (d regDir) EventEnabled(t string) bool {
	c, err := d.r.DescribeEventConfigurations()
	return err == nil && c.Enabled[registry.EventType(t)]
}
