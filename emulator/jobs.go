package emulator

import (
	"fmt"
	"path/filepath"

	"github.com/iotcore-local/iotcore-local/hooks"
	"github.com/iotcore-local/iotcore-local/jobs"
	"github.com/iotcore-local/iotcore-local/registry"
)

// openJobs opens the jobs service. Its notifications and events are published through the
// broker, which must exist by the time a job is created (the service publishes nothing before
// the API and the broker serve).
func (e *Emulator) openJobs() error {
	log := e.log.With("component", "jobs")
	svc, err := jobs.Open(filepath.Join(e.cfg.DataDir, "jobs.db"), jobs.Options{
		Region: e.cfg.Region, Account: e.cfg.Account,
		Directory: jobs.RegistryDirectory(e.registry),
		Publish: func(p jobs.Publication) {
			if e.broker != nil {
				hooks.PublishJobs(e.broker, log, []jobs.Publication{p})
			}
		},
		Now:                     e.cfg.Now,
		DeviceRequestsPerSecond: e.cfg.JobsRateLimit,
		Logger:                  log,
	})
	if err != nil {
		return fmt.Errorf("open jobs store: %w", err)
	}
	e.jobs = svc
	return nil
}

// jobsRegistryChanged lets continuous jobs follow group membership, and removes the pending
// executions of deleted things.
func (e *Emulator) jobsRegistryChanged(ev registry.Event) {
	if e.jobs == nil {
		return
	}
	switch ev.Kind {
	case registry.MembershipChanged:
		e.jobs.OnMembership(ev.ThingName, ev.GroupName, ev.Added)
	case registry.ThingDeleted:
		e.jobs.OnThingDeleted(ev.ThingName)
	}
}

// Jobs is the jobs service, shared by MQTT and HTTP.
func (e *Emulator) Jobs() *jobs.Service { return e.jobs }
