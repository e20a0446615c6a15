package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// The API and the record page show the channel of each attempt, escaped.
func TestHistoryShowsTheChannel(t *testing.T) {
	f := newFixture(t, allowAll)
	ctx := context.Background()
	_, err := f.store.Enqueue(ctx, delivery.Message{ID: "c1", Destination: "ats", Payload: []byte("{}")})
	require.NoError(t, err)
	for i, ch := range []string{"primary", "<b>backup</b>"} {
		recs, err := f.store.Claim(ctx, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		a := delivery.Attempt{StartedAt: time.Now(), Class: classify.ClassEphemeral, Status: 503, Error: "ephemeral: http 503", Channel: ch}
		if i == 1 {
			a.Class = classify.ClassPermanent
			require.NoError(t, f.store.DeadLetter(ctx, recs[0].Lease(), a))
		} else {
			require.NoError(t, f.store.Reschedule(ctx, recs[0].Lease(), time.Now(), &a))
		}
	}

	resp, body := f.get("/api/record?id=c1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var rec struct {
		LastAttempt struct {
			Channel string `json:"channel"`
		} `json:"last_attempt"`
		History []struct {
			Channel string `json:"channel"`
		} `json:"history"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &rec))
	require.Len(t, rec.History, 2)
	assert.Equal(t, "primary", rec.History[0].Channel)
	assert.Equal(t, "<b>backup</b>", rec.History[1].Channel)
	assert.Equal(t, "<b>backup</b>", rec.LastAttempt.Channel)

	_, page := f.get("/record?id=c1")
	assert.Contains(t, page, "<th>channel</th>")
	assert.Contains(t, page, `<td class="channel">primary</td>`)
	assert.Contains(t, page, `<td class="channel">&lt;b&gt;backup&lt;/b&gt;</td>`, "escaped")
	assert.NotContains(t, page, "<b>backup")
	assert.Equal(t, 2, strings.Count(page, `<td class="channel">`))
}
