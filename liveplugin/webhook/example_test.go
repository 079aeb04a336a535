package webhook_test

import (
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/amlive/amlive/liveplugin/webhook"
)

// A receiver checks each webhook's signature on the body's bytes as they
// arrived, before it parses them, and refuses the rest.
func ExampleVerify() {
	http.HandleFunc("POST /hooks/amlive", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(os.Getenv("AMLIVE_WEBHOOK_SECRET"), r.Header, body, 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// The same webhook-id may arrive twice (a retry after a lost
		// answer): handle each id once.
		log.Printf("webhook %s: %s", r.Header.Get("webhook-id"), body)
		w.WriteHeader(http.StatusNoContent)
	})
}
