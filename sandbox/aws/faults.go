package aws

import "net/http"

// STUB: owned by the EC2 emulator work; replace.
type faultStore struct{}

func (s *faultStore) init(e *Emulator) {}

func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
