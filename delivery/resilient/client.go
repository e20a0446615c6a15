package resilient

import (
	"net/http"

	"github.com/outbound-go/outbound/delivery/httpclient"
)

// NewClient returns an *http.Client ready to hand to code that takes one (a
// generated API client, a vendor SDK, golang.org/x/oauth2): the client
// httpclient.New builds from cfg.HTTP (connections per host bounded,
// timeouts, its redirect policy, the dial guard if asked for), with its
// transport wrapped in a Transport configured by cfg. The client's Timeout
// (60s by default) bounds the whole call, retries and waits included; a
// wait that would outlast it is not started. It returns an error naming the
// field when a setting of cfg or cfg.HTTP is invalid.
func NewClient(cfg Config) (*http.Client, error) {
	client, err := httpclient.New(cfg.HTTP)
	if err != nil {
		return nil, err
	}
	t, err := NewTransport(client.Transport, cfg)
	if err != nil {
		return nil, err
	}
	client.Transport = t
	return client, nil
}
