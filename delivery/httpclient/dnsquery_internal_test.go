package httpclient

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

var testQuestion = dnsmessage.Question{Name: dnsmessage.MustNewName("partner.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}

// packAnswer builds an answer to testQuestion.
func packAnswer(t testing.TB, id uint16, q dnsmessage.Question, truncated bool, ttls ...uint32) []byte {
	t.Helper()
	msg := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, Response: true, Truncated: truncated},
		Questions: []dnsmessage.Question{q},
	}
	cname := dnsmessage.MustNewName("edge.partner.test.")
	msg.Answers = append(msg.Answers, dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300},
		Body:   &dnsmessage.CNAMEResource{CNAME: cname},
	})
	for i, ttl := range ttls {
		msg.Answers = append(msg.Answers, dnsmessage.Resource{
			Header: dnsmessage.ResourceHeader{Name: cname, Class: dnsmessage.ClassINET, TTL: ttl},
			Body:   &dnsmessage.AResource{A: [4]byte{192, 0, 2, byte(i + 1)}},
		})
	}
	b, err := msg.Pack()
	require.NoError(t, err)
	return b
}

func TestParseAnswer(t *testing.T) {
	a, err := parseAnswer(7, testQuestion, packAnswer(t, 7, testQuestion, false, 60, 30, 90), true)
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")}, a.addrs,
		"the CNAME on the way is skipped")
	assert.Equal(t, 30*time.Second, a.ttl, "the smallest TTL of the addresses")

	_, err = parseAnswer(8, testQuestion, packAnswer(t, 7, testQuestion, false, 60), true)
	assert.ErrorIs(t, err, errWrongID)
	other := testQuestion
	other.Name = dnsmessage.MustNewName("attacker.test.")
	_, err = parseAnswer(7, testQuestion, packAnswer(t, 7, other, false, 60), true)
	assert.ErrorIs(t, err, errWrongID, "an answer to another question is not taken")
	_, err = parseAnswer(7, testQuestion, packAnswer(t, 7, testQuestion, true, 60), true)
	assert.ErrorIs(t, err, errTruncated)
	_, err = parseAnswer(7, testQuestion, packAnswer(t, 7, testQuestion, true, 60), false)
	assert.ErrorContains(t, err, "truncated answer over TCP")
	_, err = parseAnswer(7, testQuestion, []byte{0, 7, 0x80}, true)
	assert.ErrorContains(t, err, "malformed answer")
}

// FuzzParseAnswer feeds arbitrary datagrams to the answer parser: it
// must return addresses or an error, never panic.
func FuzzParseAnswer(f *testing.F) {
	f.Add(packAnswer(f, 7, testQuestion, false, 60, 30))
	f.Add(packAnswer(f, 7, testQuestion, true, 60))
	f.Add([]byte{0, 7, 0x80, 0, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, msg []byte) {
		a, err := parseAnswer(7, testQuestion, msg, true)
		if err == nil {
			for _, addr := range a.addrs {
				assert.True(t, addr.IsValid())
			}
		}
	})
}
