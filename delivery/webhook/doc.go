// Package webhook signs outgoing webhooks and verifies incoming ones as the
// Standard Webhooks specification (standardwebhooks.com) describes, so that
// receivers can check them with a ready library in any language.
//
// Every attempt carries three headers: webhook-id, the same for every retry
// of one record (its idempotency key); webhook-timestamp, the attempt's
// time in Unix seconds; and webhook-signature, a space-separated list of
// "scheme,base64" signatures over "id.timestamp.body", one per signing key.
// Scheme v1 is HMAC-SHA256 with a shared whsec_ secret; v1a is Ed25519,
// signed with a whsk_ secret key and verified with its whpk_ public key.
//
// The package plugs in at the HTTP level: a [Transport] signs each request
// of an http.Client as it is sent, so a httpdelivery.Deliverer built on
// that client signs every attempt, retries included, over exactly the
// bytes it sends.
//
//	key, err := webhook.ParseKey(os.Getenv("WEBHOOK_SECRET")) // "whsec_..."
//	if err != nil { ... }                                     // never echoes the secret
//	signer, err := webhook.NewSigner(webhook.SignerConfig{Keys: []webhook.Key{key}})
//	client, err := httpclient.New(httpclient.Config{BlockPrivateAddresses: true})
//	client.Transport = &webhook.Transport{Base: client.Transport, Signer: signer}
//	send, err := httpdelivery.New(httpdelivery.Config{
//		Client: client, Build: httpdelivery.PostTo(endpoint, "application/json"),
//	})
//
// A receiver verifies with a [Verifier]:
//
//	v, err := webhook.NewVerifier(webhook.VerifierConfig{Keys: []webhook.Key{key}})
//	body, err := v.VerifyRequest(r) // in the handler; 401 on error
//
// To rotate a key without a window where receivers reject, sign with the
// old and the new key at once (two entries in webhook-signature), move
// every receiver to the new key, then drop the old key from the Signer.
// Give each destination its own key ([Transport].SignerFor).
//
// Keys never show their material: [Key], [Signer] and [Verifier] print
// redacted under every fmt verb and in log/slog, and no error of this
// package contains a secret or echoes a received header value. A malformed
// key is an error from [ParseKey], before anything is sent.
package webhook
