//go:build !race

package delivery_test

// millionBacklog is the backlog of TestDispatcherMemoryBoundedWithAMillionRecordBacklog.
const millionBacklog = 1_000_000
