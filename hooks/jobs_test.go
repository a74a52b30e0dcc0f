package hooks

import (
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// BenchmarkServiceTopicsOnOrdinaryPublish is what the shadow hook (with the jobs router in it)
// costs an ordinary publish that is neither a shadow nor a jobs request: the whole $aws service
// routing of a telemetry message. With and without the jobs router, to show that jobs add (almost)
// nothing to the message path.
func BenchmarkServiceTopicsOnOrdinaryPublish(b *testing.B) {
	for _, bc := range []struct {
		name string
		jobs *Jobs
	}{{"without-jobs", nil}, {"with-jobs", NewJobs(JobsOptions{})}} {
		b.Run(bc.name, func(b *testing.B) {
			h := NewShadowService(ShadowOptions{Jobs: bc.jobs})
			for _, topic := range []string{"things/sensor-1/telemetry", "$aws/things/sensor-1/tunnels/notify"} {
				pk := packets.Packet{TopicName: topic, Payload: []byte(`{"t":21.5}`)}
				b.Run(topic, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						h.OnPublished(nil, pk)
					}
				})
			}
		})
	}
}

// TestJobsRouterIgnoresOtherTopics: the router takes only jobs request topics; the service's
// own answers and notifications, shadow topics and ordinary topics pass (route reports false
// without touching a service, which this router does not even have).
func TestJobsRouterIgnoresOtherTopics(t *testing.T) {
	r := NewJobs(JobsOptions{})
	for _, topic := range []string{
		"things/sensor-1/telemetry", "$aws/things/t/shadow/update", "$aws/things/t/jobs/notify",
		"$aws/things/t/jobs/notify-next", "$aws/things/t/jobs/get/accepted", "$aws/things/t/jobs/j/update/rejected",
		"$aws/events/job/j/completed",
	} {
		if r.route(nil, packets.Packet{TopicName: topic}) {
			t.Errorf("%s was taken for a jobs request", topic)
		}
	}
	var none *Jobs
	if none.route(nil, packets.Packet{TopicName: "$aws/things/t/jobs/get"}) {
		t.Error("a nil router took a request")
	}
}
