// Package browsertest drives the operators' page (package delivery/admin)
// in a real headless Chromium through chromedp: open the page on a store
// with dead letters, read their count, open a record and read its attempt
// history, press redrive, and find the record pending in the store. It has
// no code of its own, only that test; it is a module of its own so the
// browser driver never enters the library's go.mod.
//
// The test needs the chromium binary on PATH (Debian: apt-get install
// chromium; .ci/run installs it when missing). Without it the test skips
// with a message outside CI and fails in CI. With -screenshot it also
// writes the page as docs/admin-page.png, the screenshot in the README:
//
//	cd internal/browsertest && go test -run TestAdminPage -screenshot
package browsertest
