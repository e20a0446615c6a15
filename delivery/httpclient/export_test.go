package httpclient

// SystemNameservers exposes systemNameservers to the tests.
var SystemNameservers = systemNameservers
