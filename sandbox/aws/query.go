package aws

// Shared helpers for the two AWS "query" wire protocols the emulator speaks:
//
//   - ec2query (EC2): form-encoded POST body `Action=...&Version=2016-11-15&...`, lists flattened
//     as `Name.1`, `Name.2`; responses `<XxxResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`
//     with a lowerCamel `requestId` and the output members inline; errors
//     `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
//   - awsquery (IAM, STS): same request encoding but lists as `Name.member.1`; responses
//     `<XxxResponse xmlns=NS><XxxResult>...</XxxResult><ResponseMetadata><RequestId/></ResponseMetadata></XxxResponse>`;
//     errors `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
//
// Source of the shapes: the aws-sdk-go-v2 deserializers (aws/protocol/ec2query/error_utils.go,
// aws/protocol/query/..., service/ec2/deserializers.go, service/iam/deserializers.go).

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// EC2Namespace is the XML namespace of every EC2 query response.
const EC2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// maxFormBytes bounds a query request body (1 MiB; AWS's own limit for EC2 user data is 16 KiB
// base64, far below this).
const maxFormBytes = 1 << 20

// apiError is an AWS error answer: HTTP status, error code (e.g. "InvalidParameterValue") and
// message. Handlers return it; the protocol-specific writer renders it.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorf returns an *apiError with status, code and a formatted message.
func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// newRequestID returns a fresh request ID in the UUID form AWS uses.
func newRequestID() string { return uuid.NewString() }

// parseForm reads a query-protocol request: a POST with an application/x-www-form-urlencoded
// body of at most 1 MiB (GET query strings are accepted too, as AWS does). It returns the
// merged values or an error describing why the body could not be read.
func parseForm(r *http.Request) (url.Values, error) {
	out := url.Values{}
	for k, v := range r.URL.Query() {
		out[k] = append(out[k], v...)
	}
	if r.Body == nil {
		return out, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if len(body) > maxFormBytes {
		return nil, fmt.Errorf("request body exceeds %d bytes", maxFormBytes)
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("request body is not form-encoded: %w", err)
	}
	for k, v := range vals {
		out[k] = append(out[k], v...)
	}
	return out, nil
}

// marshalInner renders v's XML members without its own outer element.
func marshalInner(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "x"}}); err != nil {
		return nil, err
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	switch {
	case bytes.HasPrefix(b, []byte("<x>")) && bytes.HasSuffix(b, []byte("</x>")):
		return b[3 : len(b)-4], nil
	case bytes.Equal(b, []byte("<x/>")):
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected XML rendering of %T", v)
}

func writeXMLBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeQueryXML writes an awsquery (IAM/STS) success response:
// <{action}Response xmlns={namespace}><{action}Result>{result's members}</{action}Result>
// <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></{action}Response>.
// result is a struct with encoding/xml tags (PascalCase element names); nil writes no Result.
func writeQueryXML(w http.ResponseWriter, action, namespace string, result any) {
	inner, err := marshalInner(result)
	if err != nil {
		writeQueryError(w, http.StatusInternalServerError, "Receiver", "InternalFailure", err.Error())
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<%sResponse xmlns="%s">`, action, xmlEscape(namespace))
	if result != nil {
		fmt.Fprintf(&b, "<%sResult>", action)
		b.Write(inner)
		fmt.Fprintf(&b, "</%sResult>", action)
	}
	fmt.Fprintf(&b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", newRequestID(), action)
	writeXMLBody(w, http.StatusOK, b.Bytes())
}

// writeEC2XML writes an ec2query success response:
// <{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>...</requestId>
// {result's members}</{action}Response>. result is a struct with lowerCamel xml tags and `item`
// list members (e.g. `xml:"subnetSet>item"`); nil writes only the request ID.
func writeEC2XML(w http.ResponseWriter, action string, result any) {
	inner, err := marshalInner(result)
	if err != nil {
		writeEC2Error(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<%sResponse xmlns="%s"><requestId>%s</requestId>`, action, EC2Namespace, newRequestID())
	b.Write(inner)
	fmt.Fprintf(&b, "</%sResponse>", action)
	writeXMLBody(w, http.StatusOK, b.Bytes())
}

// writeEC2Error writes an ec2query error with HTTP status, code (e.g. "InvalidSubnetID.NotFound")
// and message.
func writeEC2Error(w http.ResponseWriter, status int, code, msg string) {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
		xmlEscape(code), xmlEscape(msg), newRequestID())
	writeXMLBody(w, status, []byte(body))
}

// writeQueryError writes an awsquery (IAM/STS) error: typ is "Sender" or "Receiver", code e.g.
// "NoSuchEntity", with HTTP status.
func writeQueryError(w http.ResponseWriter, status int, typ, code, msg string) {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		xmlEscape(typ), xmlEscape(code), xmlEscape(msg), newRequestID())
	writeXMLBody(w, status, []byte(body))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// formIndices returns the sorted distinct N of keys "prefix.N" or "prefix.N.<rest>".
func formIndices(form url.Values, prefix string) []int {
	seen := map[int]bool{}
	p := prefix + "."
	for k := range form {
		if !strings.HasPrefix(k, p) {
			continue
		}
		rest := k[len(p):]
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 {
			continue
		}
		seen[n] = true
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// formList returns the scalar list serialized as prefix.1, prefix.2, ... in index order
// (ec2query style; pass "Name.member" for awsquery lists).
func formList(form url.Values, prefix string) []string {
	var out []string
	for _, n := range formIndices(form, prefix) {
		if v, ok := form[prefix+"."+strconv.Itoa(n)]; ok && len(v) > 0 {
			out = append(out, v[0])
		}
	}
	return out
}

// formObjects returns the structure list serialized as prefix.N.<member>...: one url.Values per
// index, in index order, whose keys are the members with "prefix.N." removed.
func formObjects(form url.Values, prefix string) []url.Values {
	idx := formIndices(form, prefix)
	out := make([]url.Values, 0, len(idx))
	for _, n := range idx {
		out = append(out, formSub(form, prefix+"."+strconv.Itoa(n)))
	}
	return out
}

// formSub returns the members of the structure serialized under prefix ("prefix.<member>"),
// with "prefix." removed from the keys.
func formSub(form url.Values, prefix string) url.Values {
	p := prefix + "."
	sub := url.Values{}
	for k, v := range form {
		if strings.HasPrefix(k, p) {
			sub[k[len(p):]] = v
		}
	}
	return sub
}

// formInt parses the integer member key; absent gives def. The error names the field path.
func formInt(form url.Values, key string, def int64) (int64, *apiError) {
	s := form.Get(key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value '%s' for %s: not an integer", s, key)
	}
	return n, nil
}

// formBool parses a boolean member ("true"/"false"); absent gives false.
func formBool(form url.Values, key string) (bool, *apiError) {
	s := form.Get(key)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value '%s' for %s: not a boolean", s, key)
	}
	return b, nil
}
