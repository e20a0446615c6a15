package delivery_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

func TestRecordPrintsStateButNoSecrets(t *testing.T) {
	r := delivery.Record{
		Message: delivery.Message{ID: "cand-1", Key: "k", Payload: []byte(`{"ssn":"123-45-6789"}`),
			Headers: map[string]string{"Authorization": "Bearer s3cr3t-token", "X-Tenant": "acme"}},
		State: delivery.StateDead, Seq: 7, Attempts: 3,
		LastAttempt: delivery.Attempt{StartedAt: time.Now(), Class: classify.ClassPermanent, Status: 400, Error: "permanent: http 400"},
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("record", "r", r)
	for _, out := range []string{fmt.Sprint(r), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r), fmt.Sprintf("%v", &r), logged.String()} {
		assert.Contains(t, out, "dead")
		assert.Contains(t, out, "cand-1")
		assert.Contains(t, out, "400")
		assert.NotContains(t, out, "s3cr3t-token")
		assert.NotContains(t, out, "123-45-6789")
	}
}
