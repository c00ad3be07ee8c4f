package aws

import "net/http"

// STUB: owned by the EC2 emulator work; replace.
type ec2Store struct{}


func (s *ec2Store) init(e *Emulator) {}

func (e *Emulator) serveEC2(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
