// Package killtest is the kill -9 test shared by the durable stores: a
// child process (the test binary, re-executed) runs a dispatcher on the
// store, delivering to an HTTP partner that counts deliveries per
// Idempotency-Key; the parent kills it with SIGKILL several times
// mid-drain, restarting it each time, then lets a last child drain the
// outbox. It checks that every record is delivered, none is lost, and
// that the duplicates stay within the records in flight at the kills
// (those are the only ones whose outcome can have been lost).
//
// A store's test package wires it in twice: in TestMain, to run the child,
// and in a test, to run the parent:
//
//	func TestMain(m *testing.M) {
//		if killtest.IsChild() {
//			os.Exit(killtest.RunChild(openFromEnv, killtest.Timing{Lease: 8 * time.Second, StoreTimeout: 2 * time.Second}))
//		}
//		goleak.VerifyTestMain(m)
//	}
//
//	func TestKilledDispatcherLosesNothing(t *testing.T) {
//		path := filepath.Join(t.TempDir(), "outbox.db")
//		res := killtest.Run(t, killtest.Config{
//			Store: open(t, path), Records: 2000, Kills: 5,
//			ChildEnv: []string{"MYSTORE_PATH=" + path},
//		})
//		t.Logf("%.2f duplicates per kill", res.DuplicatesPerKill())
//	}
//
// openFromEnv opens the store the parent named in ChildEnv.
package killtest
