package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/webhook"
)

// The secret, id, timestamp and payload of the specification repository's
// published example.
func ExampleSigner() {
	key, err := webhook.ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		fmt.Println(err)
		return
	}
	signer, err := webhook.NewSigner(webhook.SignerConfig{Keys: []webhook.Key{key}})
	if err != nil {
		fmt.Println(err)
		return
	}
	sig, err := signer.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("webhook-signature:", sig)
	fmt.Println(key) // keys never print their material
	// Output:
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	// webhook.Key(v1 secret, redacted)
}

func ExampleVerifier() {
	key, err := webhook.ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := webhook.NewVerifier(webhook.VerifierConfig{
		Keys: []webhook.Key{key},
		Now:  func() time.Time { return time.Unix(1614265330+30, 0) }, // the receiver's clock: 30s later
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	fmt.Println("genuine:", v.Verify(h, []byte(`{"test": 2432232314}`)))
	err = v.Verify(h, []byte(`{"test": 2432232315}`))
	fmt.Println("tampered:", errors.Is(err, webhook.ErrNoValidSignature))
	// Output:
	// genuine: <nil>
	// tampered: true
}

// A httpdelivery.Deliverer whose client signs every attempt, and a receiver
// that verifies.
func ExampleTransport() {
	secret := webhook.NewSecret() // in a service: from the secret store
	key, _ := webhook.ParseKey(secret)
	verifier, _ := webhook.NewVerifier(webhook.VerifierConfig{Keys: []webhook.Key{key}})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := verifier.VerifyRequest(r)
		if err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		fmt.Printf("received %s: %s\n", r.Header.Get("webhook-id"), body)
	}))
	defer receiver.Close()

	signer, err := webhook.NewSigner(webhook.SignerConfig{Keys: []webhook.Key{key}})
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := httpclient.New(httpclient.Config{}) // BlockPrivateAddresses: true for user-given URLs
	if err != nil {
		fmt.Println(err)
		return
	}
	client.Transport = &webhook.Transport{Base: client.Transport, Signer: signer}
	defer client.CloseIdleConnections()
	send, err := httpdelivery.New(httpdelivery.Config{
		Client: client,
		Build:  httpdelivery.PostTo(receiver.URL+"/hooks", "application/json"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = send.Deliver(context.Background(), &delivery.Message{ID: "evt_1", Payload: []byte(`{"type":"invoice.paid"}`)})
	fmt.Println("delivered:", err == nil)
	// Output:
	// received evt_1: {"type":"invoice.paid"}
	// delivered: true
}
