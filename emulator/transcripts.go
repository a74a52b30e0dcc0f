package emulator

import (
	"encoding/json"
	"fmt"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/listener"
)

// connectionLog adapts the listener's transcript store to the API.
type connectionLog struct{ store *listener.Transcripts }

func toFilter(f api.ConnectionFilter) listener.Filter {
	return listener.Filter{ClientID: f.ClientID, CertificateID: f.CertificateID, Outcome: f.Outcome, Personality: f.Personality}
}

func (c connectionLog) Records(f api.ConnectionFilter) any { return c.store.Query(toFilter(f)) }

// Subscribe forwards the store's records that pass the filter, as JSON, until stop.
func (c connectionLog) Subscribe(f api.ConnectionFilter) (<-chan []byte, func()) {
	lf := toFilter(f)
	recs, stopStore := c.store.Subscribe()
	out := make(chan []byte, 16)
	done := make(chan struct{})
	go func() {
		defer close(out)
		for rec := range recs {
			if !lf.Match(&rec) {
				continue
			}
			data, err := json.Marshal(rec)
			if err != nil {
				continue
			}
			select {
			case out <- data:
			case <-done:
				return
			}
		}
	}()
	stop := func() {
		select {
		case <-done:
		default:
			close(done)
		}
		stopStore()
		for range out { // let the forwarder end
		}
	}
	return out, stop
}

// faultSet adapts the listeners' fault rules to the API.
type faultSet struct{ faults *listener.Faults }

func (s faultSet) List() []api.TLSFault {
	var out []api.TLSFault
	for _, r := range s.faults.Rules() {
		out = append(out, api.TLSFault{Name: r.Name, Target: r.Target})
	}
	return out
}

func (s faultSet) Add(f api.TLSFault) error {
	return s.faults.Add(listener.FaultRule{Name: f.Name, Target: f.Target})
}

func (s faultSet) Remove(f api.TLSFault) bool {
	return s.faults.Remove(listener.FaultRule{Name: f.Name, Target: f.Target})
}

func (s faultSet) Clear() { s.faults.Clear() }

// parseTLSFaults reads --tls-fault values (NAME[@TARGET]), naming the bad one.
func parseTLSFaults(specs []string, field string) ([]listener.FaultRule, error) {
	rules := make([]listener.FaultRule, 0, len(specs))
	for i, spec := range specs {
		r, err := listener.ParseFaultRule(spec)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// addTLSFaults applies fault rules to the running listeners.
func (e *Emulator) addTLSFaults(rules []listener.FaultRule) error {
	for _, r := range rules {
		if err := e.faults.Add(r); err != nil {
			return err
		}
	}
	return nil
}

// TLSFaults is the fault injection rule set of the listeners, changeable while running.
func (e *Emulator) TLSFaults() *listener.Faults { return e.faults }

// certificateThing names the first thing a certificate is attached to, for transcripts.
func (e *Emulator) certificateThing(certID string) string {
	c, err := e.registry.DescribeCertificate(certID)
	if err != nil {
		return ""
	}
	things, _, err := e.registry.ListPrincipalThings(c.ARN, "", 1)
	if err != nil || len(things) == 0 {
		return ""
	}
	return things[0]
}
