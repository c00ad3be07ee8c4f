package simulate

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// An input larger than the limit (an endless one included) is refused with the file's name,
// after reading at most one byte past the limit; one at the limit is read whole.
func TestReadInputRefusesLargeInput(t *testing.T) {
	endless := io.MultiReader(strings.NewReader("kind: Pod\n"), zeros{})
	if _, err := readInput("/dev/zero", endless, 1<<20); err == nil || err.Error() != "/dev/zero: too large: more than 1 MiB (split it into several files)" {
		t.Errorf("endless input: error %v", err)
	}
	at := bytes.Repeat([]byte("#"), 100)
	data, err := readInput("w.yaml", bytes.NewReader(at), 100)
	if err != nil || len(data) != 100 {
		t.Errorf("input at the limit: %d bytes, error %v", len(data), err)
	}
	if _, err := readInput("w.yaml", bytes.NewReader(append(at, '#')), 100); err == nil || !strings.Contains(err.Error(), "w.yaml: too large: more than 100 bytes") {
		t.Errorf("input one byte over the limit: error %v", err)
	}
}

// zeros reads as an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
