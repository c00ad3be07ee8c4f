package v1alpha5

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// MIMEPart is one part of a MIME multi-part user data document: its headers and its body as
// written in the document (not decoded).
// +kubebuilder:object:generate=false
type MIMEPart struct {
	Header textproto.MIMEHeader
	Body   []byte
}

// IsMIMEUserData reports whether AL2 or Ubuntu user data is a MIME document: it starts (after
// blank space) with a MIME-Version or Content-Type header, as cloud-init tells them apart.
func IsMIMEUserData(userData string) bool {
	trimmed := strings.TrimLeft(userData, " \t\r\n")
	return strings.HasPrefix(trimmed, "MIME-Version:") || strings.HasPrefix(trimmed, "Content-Type:")
}

// mimeTransferEncodings are the Content-Transfer-Encoding values of RFC 2045 section 6.1, which
// cloud-init (Python's email package) decodes; any other would reach cloud-init undecoded.
var mimeTransferEncodings = []string{"7bit", "8bit", "binary", "base64", "quoted-printable"}

// ParseMIMEUserData parses AL2 or Ubuntu user data that IsMIMEUserData: a multipart document
// (RFC 2046; the controller appends its bootstrap part) whose Content-Type and parts' headers
// parse, whose parts' Content-Transfer-Encoding, when given, is one of RFC 2045's (7bit, 8bit,
// binary, base64, quoted-printable) and whose base64 and quoted-printable bodies decode. Line
// endings may be CRLF, LF or mixed (as cloud-init accepts). Errors never repeat the user data:
// it may hold secrets, and errors show in plans, API responses and events.
func ParseMIMEUserData(userData string) ([]MIMEPart, error) {
	trimmed := strings.TrimLeft(userData, " \t\r\n")
	msg, err := mail.ReadMessage(strings.NewReader(strings.ReplaceAll(trimmed, "\r\n", "\n")))
	if err != nil {
		return nil, fmt.Errorf("MIME headers: %s", redactInput(err, userData))
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	switch {
	case msg.Header.Get("Content-Type") == "":
		return nil, errors.New("a MIME document must have a multipart Content-Type header")
	case err != nil:
		return nil, fmt.Errorf("the document's Content-Type header does not parse: %s", redactInput(err, userData))
	case !strings.HasPrefix(mediaType, "multipart/"):
		return nil, fmt.Errorf("a MIME document must be multipart, not %s", mediaType)
	case params["boundary"] == "":
		return nil, fmt.Errorf("the document's Content-Type %s has no boundary parameter", mediaType)
	}
	var parts []MIMEPart
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for i := 0; ; i++ {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return parts, nil
		}
		var body []byte
		if err == nil {
			body, err = io.ReadAll(p)
		}
		if err != nil {
			return nil, fmt.Errorf("MIME part %d: %s", i, redactInput(err, userData))
		}
		if err := checkMIMEPart(p.Header, body); err != nil {
			return nil, fmt.Errorf("MIME part %d: %s", i, redactInput(err, userData))
		}
		parts = append(parts, MIMEPart{Header: p.Header, Body: body})
	}
}

// checkMIMEPart checks one part's Content-Type and Content-Transfer-Encoding headers and that its
// body decodes by the latter.
func checkMIMEPart(h textproto.MIMEHeader, body []byte) error {
	if ct := h.Get("Content-Type"); ct != "" {
		if _, _, err := mime.ParseMediaType(ct); err != nil {
			return fmt.Errorf("the Content-Type header does not parse: %w", err)
		}
	}
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	switch cte {
	case "", "7bit", "8bit", "binary":
		return nil
	case "base64":
		if _, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(body)), "")); err != nil {
			return fmt.Errorf("the base64 body does not decode: %w", err)
		}
	case "quoted-printable":
		if _, err := io.Copy(io.Discard, quotedprintable.NewReader(bytes.NewReader(body))); err != nil {
			return fmt.Errorf("the quoted-printable body does not decode: %w", err)
		}
	default:
		return fmt.Errorf("unknown Content-Transfer-Encoding (one of %s)", strings.Join(mimeTransferEncodings, ", "))
	}
	return nil
}
