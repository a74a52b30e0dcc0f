package emulator

import "github.com/iotcore-local/iotcore-local/internal/gcfloor"

// startGCFloor starts the collector's heap floor of Config.GCHeapFloorMiB (see internal/gcfloor:
// fewer GC cycles on the message path while the live heap is small). The collector is
// process-wide: the first emulator of a process that asks gets it.
func (e *Emulator) startGCFloor() {
	if e.cfg.GCHeapFloorMiB <= 0 {
		return
	}
	stop, st := gcfloor.Start(uint64(e.cfg.GCHeapFloorMiB) << 20)
	if !st.Active {
		e.log.Info("GC heap floor not set", "reason", st.Reason)
		return
	}
	e.gcFloorStop = stop
	e.log.Debug("GC heap floor set", "mib", e.cfg.GCHeapFloorMiB, "gogc", st.Percent)
}

// stopGCFloor removes the heap floor, restoring the collector's GOGC.
func (e *Emulator) stopGCFloor() {
	if e.gcFloorStop != nil {
		e.gcFloorStop()
		e.gcFloorStop = nil
	}
}
