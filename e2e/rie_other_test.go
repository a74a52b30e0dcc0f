//go:build !unix

package e2e

// removeLambdaTools has nothing to remove where the Runtime Interface Emulator is not built.
func removeLambdaTools() {}
