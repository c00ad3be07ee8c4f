package simulate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// maxListDepth bounds Lists nested in Lists (kubectl output nests none; a deeper file is refused).
const maxListDepth = 4

// SourceError is bad input: the source (a file name, or "-" for stdin), the 1-based line, the
// field path when known (e.g. spec.template.spec.containers[0].resources.requests.memory) and
// the reason.
type SourceError struct {
	Source string
	Line   int
	Path   string
	Reason string
	// decoding marks an error of a field's value found by Object.Decode: checks of the decoded
	// object do not report that field (or fields under it) again.
	decoding bool
}

func (e *SourceError) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Path != "" {
		b.WriteString(": " + e.Path)
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// Object is one Kubernetes object read from a source: a YAML or JSON document, or an item of a
// List document.
type Object struct {
	Source string // file name, "-" for stdin
	Line   int    // 1-based line where the object starts
	// Path is the object's path within its document: "" for a document, "items[3]" for an
	// item of a List (nested: "items[0].items[2]").
	Path       string
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// Content is the object as decoded from JSON (map[string]any; integers as int64).
	Content map[string]any
	// Warnings are about the document the object was read from (duplicate mapping keys, whose
	// last value is used), on the first object of the document only, each "file:line: text".
	Warnings []string
	doc      *document
	// undecoded are the fields (paths within the object) whose value was left out of Content
	// for an error reported when the object was read (a number JSON cannot hold): checks of
	// the object do not report them again.
	undecoded []string
}

// Ref names the object for messages: "Deployment default/web (workload.yaml:12)".
func (o *Object) Ref() string {
	name := o.Name
	if o.Namespace != "" {
		name = o.Namespace + "/" + name
	}
	return fmt.Sprintf("%s %s (%s:%d)", o.Kind, name, o.Source, o.Line)
}

// Errorf returns a SourceError at the line of field path within the object ("" for the object).
func (o *Object) Errorf(path, format string, args ...any) *SourceError {
	return &SourceError{Source: o.Source, Line: o.LineOf(path), Path: path, Reason: fmt.Sprintf(format, args...)}
}

// LineOf returns the 1-based source line of field path within the object (e.g.
// "spec.replicas", "spec.template.spec.containers[0]"), or of its deepest ancestor found.
func (o *Object) LineOf(path string) int {
	full := path
	if o.Path != "" {
		full = strings.TrimSuffix(o.Path+"."+path, ".")
	}
	if line := o.doc.lineOf(full); line > 0 {
		return line
	}
	return o.Line
}

// Decode decodes the object into a typed value (e.g. *appsv1.Deployment) the way kubectl's
// strict decoding does: case-sensitive field names; unknown and duplicate fields are returned
// as warnings (with source line) rather than errors. Errors: every field whose value has the
// wrong type or format (a quantity such as "512MB", a string for an integer), each as a
// *SourceError with the field's path and line (joined; at most maxInvalidFields). usable
// reports whether into holds the object: true without errors, and also with errors when into
// holds the object decoded without the invalid fields, so that callers can check the rest of
// it and report those errors too.
func (o *Object) Decode(into any) (warnings []string, usable bool, err error) {
	raw, err := json.Marshal(o.Content)
	if err != nil {
		return nil, false, o.Errorf("", "%v", err)
	}
	strict, err := kjson.UnmarshalStrict(raw, into)
	if err == nil {
		return o.strictWarnings(strict), true, nil
	}
	target := reflect.ValueOf(into).Elem()
	paths, reasons, usable := invalidFields(o.Content,
		func(b []byte) error { return kjson.UnmarshalCaseSensitivePreserveInts(b, newLike(into)) },
		func(clean []byte) {
			target.Set(reflect.Zero(target.Type()))
			strict, _ = kjson.UnmarshalStrict(clean, into)
		})
	errs := make([]error, 0, len(paths))
	for i, path := range paths {
		given, _ := valueAt(o.Content, path)
		e := o.Errorf(path, "%s%s", readableDecodeError(target.Type(), path, given, reasons[i]), o.yamlBoolean(path, given))
		e.decoding = true
		errs = append(errs, e)
	}
	if len(errs) == 0 { // not expected: the decode failed, so some field or the object is wrong
		errs = append(errs, o.Errorf("", "%v", err))
	}
	if !usable {
		target.Set(reflect.Zero(target.Type()))
		strict = nil
	}
	return o.strictWarnings(strict), usable, errors.Join(errs...)
}

// yamlBoolean explains a boolean at path that the source wrote as a word other than true or
// false: YAML 1.1, which kubectl's reader follows, reads unquoted y, n, yes, no, on and off
// (in any case) as booleans, so that `name: n` is not a string. It returns
// ` (YAML reads an unquoted n as a boolean: quote it, "n")`, or "" when given is not a boolean
// or the source says true or false.
func (o *Object) yamlBoolean(path string, given any) string {
	if _, ok := given.(bool); !ok {
		return ""
	}
	full := path
	if o.Path != "" {
		full = strings.TrimSuffix(o.Path+"."+path, ".")
	}
	text, ok := o.doc.plainScalar(full)
	if !ok || strings.EqualFold(text, "true") || strings.EqualFold(text, "false") {
		return ""
	}
	return fmt.Sprintf(" (YAML reads an unquoted %s as a boolean: quote it, %q)", text, text)
}

// namespacedKind reports whether the kind is read as a namespaced one (set from kinds at
// start-up: kinds' handlers decode objects, so they cannot be referred to here directly).
var namespacedKind func(apiVersion, kind string) bool

// strictWarnings formats the strict decoder's complaints (unknown and duplicate fields) with
// their lines and the object's kind and name (namespace/name for a namespaced kind, default
// when it gives none): `w.yaml:7: Deployment shop/web: unknown field "spec.replica"`.
func (o *Object) strictWarnings(strict []error) []string {
	var warnings []string
	for _, s := range strict {
		path := ""
		var fe kjson.FieldError
		if errors.As(s, &fe) {
			path = fe.FieldPath()
		}
		what := o.Kind
		if name := o.Name; name != "" {
			if o.Namespace != "" || namespacedKind(o.APIVersion, o.Kind) {
				name = namespaceOr(o.Namespace) + "/" + name // as other messages name it
			}
			what += " " + name
		}
		warnings = append(warnings, fmt.Sprintf("%s:%d: %s: %v", o.Source, o.LineOf(path), what, s))
	}
	return warnings
}

// Decode splits data (YAML documents separated by "---" lines, or JSON) into objects;
// documents that hold only comments or nothing are skipped; Lists (kind List or <Kind>List
// with items) are flattened into their items, each item inheriting the list's apiVersion and
// <Kind> when it has none. Every object must be a mapping with apiVersion and kind.
// Errors (*SourceError, joined): YAML syntax errors at the line of the problem ("invalid YAML:
// ...", see document.yamlSyntaxError), or
// for a document meant as JSON (starting with "{" or "[") JSON syntax errors ("invalid JSON:
// ..."), documents that are not objects, a List whose items are not a list ("items: Invalid
// type: expected a list, got a number"), and numbers JSON cannot hold (.inf, .nan), each at
// its field; the objects holding those are still returned, without those fields (see
// leaveOutNonFinite), so that their other errors are found too.
func Decode(source string, data []byte) ([]*Object, error) {
	var out []*Object
	var errs []error
	for _, d := range splitDocuments(source, data) {
		objs, err := d.objects()
		out = append(out, objs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// document is one YAML document of a source, starting at line start (1-based).
type document struct {
	source string
	start  int
	data   []byte
	lines  *lineIndex // built on first use, for field paths' lines
	// first caches firstContentLine (0: not computed): every item of a List asks for it.
	first int
}

// isSeparator reports whether line separates YAML documents as kubectl's reader
// (k8s.io/apimachinery/pkg/util/yaml.YAMLReader) decides: "---" at the start of the line,
// followed by nothing but blanks or a comment.
func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := bytes.TrimSpace(line[3:])
	return len(rest) == 0 || rest[0] == '#'
}

func splitDocuments(source string, data []byte) []*document {
	var docs []*document
	cur := &document{source: source, start: 1}
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		if isSeparator(line) {
			docs = append(docs, cur)
			cur = &document{source: source, start: lineNo + 1}
			continue
		}
		cur.data = append(cur.data, line...)
	}
	return append(docs, cur)
}

// firstContentLine is the line of the first line that is neither blank nor a comment. It is
// computed once per document, scanning only up to that line: a List of thousands of items (a
// kubectl dump) asks for it once per item.
func (d *document) firstContentLine() int {
	if d.first > 0 {
		return d.first
	}
	d.first = d.start
	rest := d.data
	for i := 0; len(rest) > 0; i++ {
		line := rest
		if j := bytes.IndexByte(rest, '\n'); j >= 0 {
			line, rest = rest[:j], rest[j+1:]
		} else {
			rest = nil
		}
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			d.first = d.start + i
			break
		}
	}
	return d.first
}

// yamlLine matches the position in the YAML parser's errors (go.yaml.in/yaml/v2, through
// sigs.k8s.io/yaml): "yaml: line 7: mapping values are not allowed in this context". The
// parser returns no typed error, so its message is the only carrier of the line. The line is
// the library's problem mark (where it noticed the problem), not its context mark (where the
// construct it was reading starts), which the message leaves out; see yamlSyntaxError.
var yamlLine = regexp.MustCompile(`yaml: line (\d+): (.*)$`)

// yamlParserProblems are the problems go.yaml.in/yaml/v2 finds in its parser (parserc.go), as
// opposed to its scanner (scannerc.go): the library's 0-based marks are made 1-based for
// scanner errors only, so the line of a parser error is one line early ("did not find
// expected key" for a mis-indented line names the line before it). The two sets of messages
// do not overlap.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// yamlUnknownAnchor matches the YAML decoder's error for an alias of an anchor not defined
// before it, which has no line: "unknown anchor 'base' referenced".
var yamlUnknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// maxOpenerTries bounds the prefixes of a document parsed to find where a quoted string or a
// flow collection that the input ends inside of starts (see yamlOpener), or the alias of an
// unknown anchor (see yamlAliasLine).
const maxOpenerTries = 64

// yamlDuplicate matches a duplicate mapping key in the strict YAML parser's errors:
// "line 6: key \"replicas\" already set in map".
var yamlDuplicate = regexp.MustCompile(`line (\d+): key (".*") already set in map`)

func (d *document) objects() ([]*Object, error) {
	raw, warnings, err := d.toJSON(d.data)
	var nonFinite []nonFiniteNumber
	if err != nil {
		if e := d.jsonError(); e != nil {
			return nil, e
		}
		if nonFinite = d.nonFinite(); len(nonFinite) > 0 {
			// Read the rest of the document with the numbers left out, so that the objects'
			// other errors are reported too; if it still does not convert, the numbers are all
			// that is said.
			var errs []error
			for _, n := range nonFinite {
				errs = append(errs, n.err)
			}
			clean, ok := d.withoutNonFinite(nonFinite)
			if !ok {
				return nil, errors.Join(errs...)
			}
			if raw, warnings, err = d.toJSON(clean); err != nil {
				return nil, errors.Join(errs...)
			}
		}
	}
	if err != nil {
		line, reason := d.yamlSyntaxError(err)
		e := &SourceError{Source: d.source, Line: d.firstContentLine(), Reason: "invalid YAML: " + reason}
		if line > 0 {
			e.Line = d.start + line - 1
		}
		return nil, e
	}
	var v any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &v); err != nil {
		return nil, &SourceError{Source: d.source, Line: d.firstContentLine(), Reason: "invalid document: " + err.Error()}
	}
	if v == nil && len(nonFinite) == 0 {
		return nil, nil // empty or comments only
	}
	objs, err := d.flatten(v, "", "", "", 0)
	if len(objs) > 0 {
		objs[0].Warnings = warnings
	}
	if len(nonFinite) > 0 {
		err = leaveOutNonFinite(objs, nonFinite, err)
	}
	return objs, err
}

// yamlSyntaxError returns the line within the document (1-based; 0 when unknown) of the
// problem of err, an error of converting the document's data, and its reason ("did not find
// expected key"). The line is where the problem is: the library's line, one later for a
// parser error (see yamlProblem); for a quoted string or a flow collection still open at the
// end of the input (the library names the end, a line after the last), the line of its
// opening quote or bracket, which the reason names ("found unexpected end of stream (the " on
// this line is not closed)"); for an alias of an unknown anchor (no line), the alias's line.
func (d *document) yamlSyntaxError(err error) (line int, reason string) {
	line, reason = yamlProblem(err)
	atEnd := line > lineCount(d.data)
	openers := ""
	switch {
	case reason == "found unexpected end of stream": // from the scanner, in a quoted string only
		openers = `"'`
	case atEnd && (reason == "did not find expected ',' or ']'" || reason == "did not find expected ',' or '}'" ||
		reason == "did not find expected node content"):
		openers = "[{"
	}
	if openers != "" {
		if p, ok := yamlOpener(d.data, openers); ok {
			return 1 + bytes.Count(d.data[:p], []byte("\n")), fmt.Sprintf("%s (the %c on this line is not closed)", reason, d.data[p])
		}
	}
	if !atEnd && line > 1 && (reason == "did not find expected ',' or ']'" || reason == "did not find expected ',' or '}'") {
		// A flow collection left open on an earlier line: the parser fails at the next line
		// that cannot continue it. Cut before that line, the data ends inside the collection.
		if p, ok := yamlOpener(d.data[:lineStart(d.data, line)], "[{"); ok {
			return 1 + bytes.Count(d.data[:p], []byte("\n")), fmt.Sprintf("%s (the %c on this line is not closed)", reason, d.data[p])
		}
	}
	if atEnd { // the end of the input: its last line that is not blank
		line = lineCount(bytes.TrimRight(d.data, " \t\r\n"))
	}
	if m := yamlUnknownAnchor.FindStringSubmatch(reason); m != nil {
		line = yamlAliasLine(d.data, m[1])
	}
	return line, reason
}

// yamlProblem returns the line (1-based; 0 when the message has none) and the reason of a YAML
// error as the library words it ("yaml: line 9: did not find expected key"), the line
// corrected for parser errors: the library's 0-based marks are made 1-based for scanner
// errors only, so that it puts a parser error one line early (see yamlParserProblems). The
// library leaves out the line when it is its line 0: the document's first line, or for an
// error that is not about the syntax, none.
func yamlProblem(err error) (line int, reason string) {
	msg := err.Error()
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return 0, strings.TrimPrefix(msg, "yaml: ")
	}
	line, _ = strconv.Atoi(m[1])
	if yamlParserProblems[m[2]] {
		line++
	}
	return line, m[2]
}

// lineStart is the offset in data of the start of its 1-based line n (len(data) past its end).
func lineStart(data []byte, n int) int {
	off := 0
	for range n - 1 {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return len(data)
		}
		off += i + 1
	}
	return off
}

// lineCount is the number of lines of data: its line breaks, and one for text after the last.
func lineCount(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// yamlOpener finds, in YAML data that ends inside a quoted string or a flow collection, the
// offset of the character (one of openers) that opens it: the last candidate before which the
// data, cut there, does not end inside something open. Cut inside the string or the
// collection, the data fails at its end (on its last line or after it, where the library
// reaches the end of the input); cut just before the opening, it is complete, or fails before
// its last line, or (a quote inside a flow collection) fails for the collection left open, not
// inside another string. Where several collections are open, that is the outermost one. False
// when none is found within maxOpenerTries cuts.
func yamlOpener(data []byte, openers string) (int, bool) {
	tries := 0
	for _, p := range openerCandidates(data, openers) {
		if tries++; tries > maxOpenerTries {
			break
		}
		_, err := yaml.YAMLToJSON(data[:p])
		if err == nil {
			return p, true
		}
		line, reason := yamlProblem(err)
		if max(line, 1) < lineCount(data[:p]) {
			return p, true
		}
		// Cut before a quote that opens the string, data ends in what holds the string (a flow
		// collection: "did not find expected ',' or '}'"), not inside another string.
		if openers == `"'` && reason != "found unexpected end of stream" {
			return p, true
		}
	}
	return 0, false
}

// openerCandidates returns the offsets of the characters of openers in data, last first. For
// quotes there are at most two: a quoted string open at the end of data holds no " but
// escaped ones (a backslash before) if it is double-quoted, and no ' but doubled ones (two in
// a row) if it is single-quoted, so that it opens at the last " not escaped, or at the start
// of the last run of ' of odd length.
func openerCandidates(data []byte, openers string) []int {
	var out []int
	if openers != `"'` {
		for p := len(data) - 1; p >= 0; p-- {
			if strings.IndexByte(openers, data[p]) >= 0 {
				out = append(out, p)
			}
		}
		return out
	}
	double, single := -1, -1
	for p := len(data) - 1; p >= 0 && (double < 0 || single < 0); p-- {
		switch data[p] {
		case '"':
			backslashes := 0
			for i := p - 1; i >= 0 && data[i] == '\\'; i-- {
				backslashes++
			}
			if double < 0 && backslashes%2 == 0 {
				double = p
			}
		case '\'':
			start := p
			for start > 0 && data[start-1] == '\'' {
				start--
			}
			if single < 0 && (p-start+1)%2 == 1 {
				single = start
			}
			p = start
		}
	}
	for _, p := range []int{max(double, single), min(double, single)} {
		if p >= 0 && (len(out) == 0 || out[0] != p) {
			out = append(out, p)
		}
	}
	return out
}

// yamlAliasLine returns the line of the first alias of anchor in YAML data (1-based), or 0: the
// first line holding "*anchor" such that the data up to the end of that line fails with the
// anchor unknown (an alias written in a comment or a quoted string is not one). It gives up
// (0) after maxOpenerTries such lines.
func yamlAliasLine(data []byte, anchor string) int {
	alias := []byte("*" + anchor)
	end, tries := 0, 0
	for line := 1; end < len(data) && tries < maxOpenerTries; line++ {
		next := len(data)
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			next = end + i + 1
		}
		if bytes.Contains(data[end:next], alias) {
			tries++
			if _, err := yaml.YAMLToJSON(data[:next]); err != nil && yamlUnknownAnchor.MatchString(strings.TrimPrefix(err.Error(), "yaml: ")) {
				return line
			}
		}
		end = next
	}
	return 0
}

// toJSON converts the YAML document data to JSON, with a warning for each duplicate mapping
// key. The strict conversion refuses duplicate keys; the lenient one keeps the last value, as
// kubectl's conversion does. Duplicates are warned about, and the lenient result is read.
func (d *document) toJSON(data []byte) (raw []byte, warnings []string, err error) {
	raw, err = yaml.YAMLToJSONStrict(data)
	if err == nil {
		return raw, nil, nil
	}
	raw, lerr := yaml.YAMLToJSON(data)
	if lerr != nil {
		return nil, nil, lerr
	}
	for _, m := range yamlDuplicate.FindAllStringSubmatch(err.Error(), -1) {
		n, _ := strconv.Atoi(m[1])
		warnings = append(warnings, fmt.Sprintf("%s:%d: duplicate key %s: the last value is used", d.source, d.start+n-1, m[2]))
	}
	return raw, warnings, nil
}

// leaveOutNonFinite takes the non-finite numbers (read as null) out of the objects that hold
// them, as Object.Decode leaves out a field whose value is invalid, and marks their fields so
// that the objects' checks do not report them again (a missing field); err, the errors of
// reading the objects, is returned with the numbers' errors, less those about where a number
// stood (an item of a List that is a number: "not a Kubernetes object").
func leaveOutNonFinite(objs []*Object, nums []nonFiniteNumber, err error) error {
	var paths []string
	var out []error
	for _, n := range nums {
		out = append(out, n.err)
		paths = append(paths, n.path)
		var owner *Object
		for _, o := range objs {
			if (o.Path == "" || strings.HasPrefix(n.path, o.Path+".")) && (owner == nil || len(o.Path) > len(owner.Path)) {
				owner = o
			}
		}
		if owner == nil {
			continue
		}
		rel := n.path
		if owner.Path != "" {
			rel = strings.TrimPrefix(n.path, owner.Path+".")
		}
		deleteAt(owner.Content, rel)
		owner.undecoded = append(owner.undecoded, rel)
	}
	if err != nil {
		for _, e := range flatten(err) {
			if se, ok := e.(*SourceError); !ok || (!slices.Contains(paths, se.Path) && !under(se.Path, paths)) {
				out = append(out, e)
			}
		}
	}
	return errors.Join(out...)
}

// jsonError explains why a document that YAML does not parse is not JSON either, when it is
// meant as JSON (its first character other than a blank is "{" or "["): "invalid JSON" with
// encoding/json's reason ("unexpected end of JSON input") at the line of the character where
// JSON fails (for input that ends early, the last line that is not blank). Nil for other
// documents, and for valid JSON (the YAML error stands).
func (d *document) jsonError() *SourceError {
	trimmed := bytes.TrimSpace(d.data)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		return nil
	}
	var v any
	err := json.Unmarshal(d.data, &v)
	var syntax *json.SyntaxError
	if !errors.As(err, &syntax) {
		return nil
	}
	offset := min(max(syntax.Offset, 0), int64(len(d.data)))
	before := bytes.TrimRight(d.data[:offset], " \t\r\n")
	return &SourceError{Source: d.source, Line: d.start + bytes.Count(before, []byte("\n")), Reason: "invalid JSON: " + syntax.Error()}
}

// flatten turns v (the document or an item of a List at path) into objects.
func (d *document) flatten(v any, path, defaultAPIVersion, defaultKind string, depth int) ([]*Object, error) {
	o := &Object{Source: d.source, Path: path, doc: d}
	o.Line = d.firstContentLine()
	if path != "" {
		o.Line = o.LineOf("")
	}
	m, ok := v.(map[string]any)
	if !ok {
		e := o.Errorf("", "not a Kubernetes object: want a mapping with apiVersion and kind, got %s", jsonKind(v))
		e.Path = path // an item of a List: "items[3]"
		return nil, e
	}
	o.Content = m
	o.APIVersion, o.Kind = stringField(m, "apiVersion"), stringField(m, "kind")
	if o.APIVersion == "" {
		o.APIVersion = defaultAPIVersion
	}
	if o.Kind == "" {
		o.Kind = defaultKind
	}
	if o.APIVersion == "" || o.Kind == "" {
		e := o.Errorf("", "not a Kubernetes object: apiVersion and kind are required")
		e.Path = path
		return nil, e
	}
	m["apiVersion"], m["kind"] = o.APIVersion, o.Kind
	if meta, ok := m["metadata"].(map[string]any); ok {
		o.Name, o.Namespace = stringField(meta, "name"), stringField(meta, "namespace")
	}
	if !strings.HasSuffix(o.Kind, "List") { // List, or <Kind>List
		return []*Object{o}, nil
	}
	items, isList := m["items"].([]any)
	if given, ok := m["items"]; ok && given != nil && !isList {
		return nil, o.Errorf("items", "Invalid type: expected a list, got %s", jsonKind(given))
	}
	if !isList {
		return []*Object{o}, nil
	}
	if depth >= maxListDepth {
		return nil, o.Errorf("items", "Lists nested deeper than %d", maxListDepth)
	}
	// Items of a <Kind>List may omit their apiVersion and kind; those of a List may not.
	itemAPIVersion, itemKind := "", ""
	if o.Kind != "List" {
		itemAPIVersion, itemKind = o.APIVersion, strings.TrimSuffix(o.Kind, "List")
	}
	var out []*Object
	var errs []error
	for i, item := range items {
		objs, err := d.flatten(item, strings.TrimPrefix(fmt.Sprintf("%s.items[%d]", path, i), "."), itemAPIVersion, itemKind, depth+1)
		out = append(out, objs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

func stringField(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	default:
		return "a number"
	}
}

// goTypeError matches encoding/json's type errors, which sigs.k8s.io/json returns as an
// unexported type: "json: cannot unmarshal object into Go struct field PodSpec.spec.containers
// of type []v1.Container".
var goTypeError = regexp.MustCompile(`^json: cannot unmarshal (\w+)(?: (\S+))? into Go (?:struct field \S+|value) of type (\S+)$`)

// readableDecodeError words a type error of the field at path of a value of type t as the
// JSON kind the field takes against the one given ("Invalid type: expected a list, got an
// object"), instead of Go type names. given is the field's value in the input: a quantity
// field given a boolean, a list or an object is a type error too ("Invalid type: expected a
// quantity (a string or a number), got a boolean"), although resource.Quantity reports it as
// a string that does not parse. Other errors (a quantity string that does not parse) are
// returned as they are.
func readableDecodeError(t reflect.Type, path string, given any, err error) string {
	m := goTypeError.FindStringSubmatch(err.Error())
	if m == nil {
		if ft := fieldType(t, path); ft != nil && isQuantity(ft) {
			switch v := given.(type) {
			case bool, []any, map[string]any:
				return fmt.Sprintf("Invalid type: expected %s, got %s", jsonKindOf(ft), jsonKind(given))
			case string:
				// The API server's text names the pattern only: the value shows which it is.
				return fmt.Sprintf("%v (got %q)", err, v)
			}
		}
		return err.Error()
	}
	got := map[string]string{"object": "an object", "array": "a list", "string": "a string", "number": "a number", "bool": "a boolean"}[m[1]]
	want := ""
	ft := fieldType(t, path)
	if ft != nil {
		want = jsonKindOf(ft)
	}
	if got == "" || want == "" {
		return err.Error()
	}
	if m[1] == "number" && want == "an integer" {
		if lo, hi, ok := outOfRange(m[2], ft); ok {
			return fmt.Sprintf("Invalid value: %s: out of range: the field holds integers from %d to %d", m[2], lo, hi)
		}
	}
	return fmt.Sprintf("Invalid type: expected %s, got %s", want, got)
}

// outOfRange reports whether the JSON number literal is a whole number that integer type t
// cannot hold (a value too large for an int32 field, say), with t's range.
func outOfRange(literal string, t reflect.Type) (lo int64, hi uint64, ok bool) {
	f, _, err := big.ParseFloat(literal, 10, 256, big.ToNearestEven)
	if err != nil || !f.IsInt() {
		return 0, 0, false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bits := uint(t.Bits())
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		lo, hi = -1<<(bits-1), 1<<(bits-1)-1
	default:
		lo, hi = 0, 1<<bits-1
	}
	if f.Cmp(new(big.Float).SetInt64(lo)) >= 0 && f.Cmp(new(big.Float).SetUint64(hi)) <= 0 {
		return 0, 0, false // within range: some other reason
	}
	return lo, hi, true
}

// fieldType returns the Go type of the field at path ("spec.containers[0].ports[0].protocol",
// map keys as fields; a map key may contain dots, as "requests.nvidia.com/gpu") within t,
// following json tags and inlined structs; nil when not found.
func fieldType(t reflect.Type, path string) reflect.Type {
	inKey := false // the last segment was a map key: a segment that names no field continues it
	for _, seg := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		next := jsonField(t, name)
		switch {
		case next != nil:
			inKey = isMap(t)
			t = next
		case !inKey:
			return nil
		}
		if rest != "" {
			inKey = false
		}
		for ; rest != ""; _, rest, _ = strings.Cut(rest, "[") {
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				return nil
			}
			t = t.Elem()
		}
	}
	return t
}

// jsonField returns the type of the field of struct (or map) type t that JSON name decodes into.
func jsonField(t reflect.Type, name string) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Map {
		return t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == name:
			return f.Type
		case tag == "" && f.Anonymous: // inlined (TypeMeta, ObjectMeta with ",inline")
			if ft := jsonField(f.Type, name); ft != nil {
				return ft
			}
		}
	}
	return nil
}

// isMap reports whether t is a map type (or a pointer to one).
func isMap(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Map
}

// isQuantity reports whether t is resource.Quantity (or a pointer to it).
func isQuantity(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.String() == "resource.Quantity"
}

// jsonKindOf names the JSON kind a Go type is decoded from.
func jsonKindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.String() {
	case "intstr.IntOrString":
		return "an integer or a string"
	case "resource.Quantity":
		return "a quantity (a string or a number)"
	case "v1.Time", "v1.MicroTime", "v1.Duration":
		return "a string"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return ""
}
