package emulator

import "github.com/iotcore-local/iotcore-local/rules"

// ruleFunctions is what the lambda action invokes functions through: the emulator's shared
// functions client (serve --function ARN=URL, seed functions:, else the SDK-configured Lambda
// endpoint).
func (e *Emulator) ruleFunctions() rules.Invoker {
	if e.functions == nil {
		return nil
	}
	return e.functions
}
