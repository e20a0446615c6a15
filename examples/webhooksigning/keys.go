package main

import (
	"github.com/outbound-go/outbound/delivery/webhook"
)

// demoKeys are the keys of a rotation in progress: the sender signs with
// the new Ed25519 key and the old HMAC secret; the receiver has moved to
// the new public key. In a service the secrets come from a secret store.
type demoKeys struct {
	signer       *webhook.Signer
	receiverKeys []webhook.Key
}

func newKeys() (*demoKeys, error) {
	newSecretKey, newPublicKey := webhook.NewKeyPair()
	oldSecret := webhook.NewSecret()
	var signing []webhook.Key
	for _, s := range []string{newSecretKey, oldSecret} {
		k, err := webhook.ParseKey(s)
		if err != nil {
			return nil, err
		}
		signing = append(signing, k)
	}
	signer, err := webhook.NewSigner(webhook.SignerConfig{Keys: signing})
	if err != nil {
		return nil, err
	}
	pub, err := webhook.ParseKey(newPublicKey)
	if err != nil {
		return nil, err
	}
	return &demoKeys{signer: signer, receiverKeys: []webhook.Key{pub}}, nil
}
