package httpclient_test

import (
	"testing"
	"time"

	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewTransportDefaults(t *testing.T) {
	tr, err := httpclient.NewTransport(httpclient.Config{})
	require.NoError(t, err)
	assert.Equal(t, httpclient.DefaultMaxConnsPerHost, tr.MaxConnsPerHost)
	assert.Equal(t, httpclient.DefaultMaxConnsPerHost, tr.MaxIdleConnsPerHost, "idle pool sized to match")
	assert.False(t, tr.DisableKeepAlives)
	assert.Equal(t, httpclient.DefaultResponseHeaderTimeout, tr.ResponseHeaderTimeout)
	assert.Equal(t, httpclient.DefaultTLSHandshakeTimeout, tr.TLSHandshakeTimeout)
	assert.NotNil(t, tr.Proxy)
	assert.True(t, tr.TLSClientConfig == nil || !tr.TLSClientConfig.InsecureSkipVerify)

	guarded, err := httpclient.NewTransport(httpclient.Config{BlockPrivateAddresses: true})
	require.NoError(t, err)
	assert.Nil(t, guarded.Proxy, "a proxy would bypass the dial guard")

	c, err := httpclient.New(httpclient.Config{})
	require.NoError(t, err)
	assert.Equal(t, httpclient.DefaultClientTimeout, c.Timeout)
	c, err = httpclient.New(httpclient.Config{Timeout: -1})
	require.NoError(t, err)
	assert.Zero(t, c.Timeout)
}

func TestClientConfigRejectsNegativeSettings(t *testing.T) {
	_, err := httpclient.New(httpclient.Config{MaxConnsPerHost: -1, DialTimeout: -time.Second})
	require.Error(t, err)
	assert.ErrorContains(t, err, "MaxConnsPerHost")
	assert.ErrorContains(t, err, "DialTimeout")
}
