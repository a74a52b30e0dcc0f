package api

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/registry"
)

// eventConfiguration is one Configuration of the eventConfigurations map (capitalised member,
// as in the model).
type eventConfiguration struct {
	Enabled bool `json:"Enabled"`
}

// updateEventConfigurationsRequest is UpdateEventConfigurations' JSON body.
type updateEventConfigurationsRequest struct {
	EventConfigurations map[string]eventConfiguration `json:"eventConfigurations"`
}

// updateEventConfigurations is UpdateEventConfigurations: PATCH /event-configurations. The event
// types named are switched on or off; the others keep their setting. Registry events are
// published (through the registry's watchers) only while their type is on.
func (s *server) updateEventConfigurations(c *call) (any, error) {
	var in updateEventConfigurationsRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	changes := make(map[registry.EventType]bool, len(in.EventConfigurations))
	for name, conf := range in.EventConfigurations {
		changes[registry.EventType(name)] = conf.Enabled
	}
	if err := s.reg.UpdateEventConfigurations(changes); err != nil {
		return nil, fmt.Errorf("update event configurations: %w", err)
	}
	return empty{}, nil
}

// describeEventConfigurationsResponse is DescribeEventConfigurations' output: every event type.
type describeEventConfigurationsResponse struct {
	EventConfigurations map[string]eventConfiguration `json:"eventConfigurations"`
	CreationDate        epochSeconds                  `json:"creationDate,omitzero"`
	LastModifiedDate    epochSeconds                  `json:"lastModifiedDate,omitzero"`
}

// describeEventConfigurations is DescribeEventConfigurations: GET /event-configurations.
func (s *server) describeEventConfigurations(*call) (any, error) {
	conf, err := s.reg.DescribeEventConfigurations()
	if err != nil {
		return nil, fmt.Errorf("describe event configurations: %w", err)
	}
	out := describeEventConfigurationsResponse{
		EventConfigurations: make(map[string]eventConfiguration, len(conf.Enabled)),
		CreationDate:        epochSeconds(conf.CreationDate),
		LastModifiedDate:    epochSeconds(conf.LastModifiedDate),
	}
	for t, on := range conf.Enabled {
		out.EventConfigurations[string(t)] = eventConfiguration{Enabled: on}
	}
	return out, nil
}
