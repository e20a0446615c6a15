// Package dnstest holds the tests that run the caching resolver and the
// failover set against a real DNS server on loopback, written with
// github.com/miekg/dns. It is a module of its own so that the DNS
// library never enters the library's go.mod; it has no API.
package dnstest
