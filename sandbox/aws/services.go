package aws

import "net/http"

// STUB: owned by the IAM/STS/EKS/SSM emulator work; replace (split into sts.go, eks.go, ssm.go).

func (e *Emulator) serveSTS(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
func (e *Emulator) serveEKS(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
func (e *Emulator) serveSSM(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
