package emulator

import "github.com/iotcore-local/iotcore-local/rules"

// ruleFunctions is what the lambda action invokes functions through; none until the shared
// functions package is wired, so lambda actions fail with a message saying how to configure one.
func (e *Emulator) ruleFunctions() rules.Invoker { return nil }
