package delivery_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

func TestNewTransportDefaults(t *testing.T) {
	tr, err := delivery.NewTransport(delivery.ClientConfig{})
	require.NoError(t, err)
	assert.Equal(t, delivery.DefaultMaxConnsPerHost, tr.MaxConnsPerHost)
	assert.Equal(t, delivery.DefaultMaxConnsPerHost, tr.MaxIdleConnsPerHost, "idle pool sized to match")
	assert.False(t, tr.DisableKeepAlives)
	assert.Equal(t, delivery.DefaultResponseHeaderTimeout, tr.ResponseHeaderTimeout)
	assert.Equal(t, delivery.DefaultTLSHandshakeTimeout, tr.TLSHandshakeTimeout)
	assert.NotNil(t, tr.Proxy)
	assert.True(t, tr.TLSClientConfig == nil || !tr.TLSClientConfig.InsecureSkipVerify)

	guarded, err := delivery.NewTransport(delivery.ClientConfig{BlockPrivateAddresses: true})
	require.NoError(t, err)
	assert.Nil(t, guarded.Proxy, "a proxy would bypass the dial guard")

	c, err := delivery.NewClient(delivery.ClientConfig{})
	require.NoError(t, err)
	assert.Equal(t, delivery.DefaultClientTimeout, c.Timeout)
	c, err = delivery.NewClient(delivery.ClientConfig{Timeout: -1})
	require.NoError(t, err)
	assert.Zero(t, c.Timeout)
}

func TestClientConfigRejectsNegativeSettings(t *testing.T) {
	_, err := delivery.NewClient(delivery.ClientConfig{MaxConnsPerHost: -1, DialTimeout: -time.Second})
	require.Error(t, err)
	assert.ErrorContains(t, err, "MaxConnsPerHost")
	assert.ErrorContains(t, err, "DialTimeout")
}
