package main

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/outbound-go/outbound/delivery"
)

// Headers the buffer reads from each webhook.
const (
	// GroupHeader carries the grouping id (an order id, say): webhooks of
	// one group reach the backend one at a time, in the order they were
	// received. Webhooks without one are forwarded in any order.
	GroupHeader = "X-Group-ID"
	// WebhookIDHeader, if present, identifies the webhook: a retried
	// webhook with the same id is buffered once.
	WebhookIDHeader = "X-Webhook-ID"
)

// maxWebhookBytes bounds a webhook's body.
const maxWebhookBytes = 256 << 10

// Buffer is the webhook endpoint: it stores each webhook in the outbox with
// its group and answers 202 Accepted as soon as it is stored, whatever the
// state of the backend. It is an http.Handler.
type Buffer struct {
	outbox delivery.Store
	log    *slog.Logger
}

// ServeHTTP buffers one webhook: 202 with the record id once stored (also
// for a webhook id already buffered), 405 for a method other than POST,
// 400 for an empty or invalid webhook, 413 for one over 256 KiB, and 503
// if the outbox cannot store it, so the sender retries.
func (b *Buffer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST webhooks here", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		http.Error(w, "webhook too large", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "cannot read webhook", http.StatusBadRequest)
		return
	case len(body) == 0:
		http.Error(w, "empty webhook", http.StatusBadRequest)
		return
	}
	group := r.Header.Get(GroupHeader)
	m := delivery.Message{
		ID:             r.Header.Get(WebhookIDHeader),
		IdempotencyKey: r.Header.Get(WebhookIDHeader),
		Key:            group,
		Payload:        body,
		Headers:        map[string]string{"Content-Type": contentType(r)},
	}
	if group != "" {
		m.Headers[GroupHeader] = group
	}
	res, err := b.outbox.Enqueue(r.Context(), m)
	switch {
	case errors.Is(err, delivery.ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		b.log.Error("webhook not buffered", "group", group, "err", err)
		http.Error(w, "cannot buffer the webhook now, retry", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": res[0].Record.ID, "duplicate": res[0].Existing})
}

func contentType(r *http.Request) string {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "application/octet-stream"
}
