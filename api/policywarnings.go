package api

import "github.com/iotcore-local/iotcore-local/auth"

// warnPolicy logs what a stored policy document most likely gets wrong (an unknown "iot:"
// action, say). AWS accepts such documents, so the emulator does too; the log says why the
// policy may not grant what its author meant.
func (s *server) warnPolicy(name, document string) {
	for _, w := range auth.DocumentWarnings(document) {
		s.log.Warn("policy accepted with a warning", "policy", name, "field", w.Field, "warning", w.Message)
	}
}
