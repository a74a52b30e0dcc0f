package bench

import (
	"context"
	"errors"
	"time"
)

// ErrShadowNotImplemented is what RunShadow returns until the emulator's shadow service exists.
var ErrShadowNotImplemented = errors.New("the shadow scenario is not implemented yet: it waits for the Device Shadow service")

// ShadowConfig is the shadow scenario: Devices devices each update their classic shadow and
// wait for the answer, Updates times, measuring update round trips.
type ShadowConfig struct {
	Target   Target
	Devices  int
	Updates  int
	Duration time.Duration
}

// ShadowResult will hold the scenario's figures.
type ShadowResult struct {
	Target TargetInfo `json:"target"`
}

// RunShadow is the hook point of the shadow scenario.
//
// TODO(issue 7, shadow): once the shadow service lands, implement it on the package's client:
// each device subscribes to $aws/things/{thing}/shadow/update/accepted and …/update/rejected
// (and …/update/delta to count deltas), then publishes {"state":{"reported":{…}},
// "clientToken":"<device>-<seq>"} to $aws/things/{thing}/shadow/update at QoS 1, and times the
// round trip until the accepted or rejected answer that echoes its clientToken. Report
// updates/s, round-trip p50/p99/max (a Histogram), accepted, rejected by error code, and
// answers missing at the end of the drain. The provisioned policy then also needs
// iot:Publish/iot:Receive on topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/* and
// iot:Subscribe on the matching topicfilter. Wire "bench shadow" in the command beside the
// other scenarios.
func RunShadow(ctx context.Context, cfg ShadowConfig) (*ShadowResult, error) {
	return nil, ErrShadowNotImplemented
}
