package main

import (
	"runtime"
	"runtime/debug"
)

// versionString names the build: the module version "go install ...@vX" records, or the VCS
// revision "go build" in a checkout records, and the Go toolchain.
func versionString() string {
	version, revision, dirty := "(devel)", "", false
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	out := "iotcore-local " + version
	if revision != "" {
		if len(revision) > 12 {
			revision = revision[:12]
		}
		out += " (commit " + revision
		if dirty {
			out += ", modified"
		}
		out += ")"
	}
	return out + " " + runtime.Version()
}
