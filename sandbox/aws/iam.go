package aws

import "net/http"

// STUB: owned by the IAM/STS/EKS/SSM emulator work; replace.
type iamStore struct{}

func (s *iamStore) init(e *Emulator) {}

func (e *Emulator) serveIAM(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
