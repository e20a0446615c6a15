//go:build race

package delivery_test

// millionBacklog is the backlog of TestDispatcherMemoryBoundedWithAMillionRecordBacklog.
// The race detector makes a million records take 40s on two cores; a tenth
// still shows a fixed worker pool and a heap that does not follow the
// backlog, and the full size runs without -race.
const millionBacklog = 100_000
