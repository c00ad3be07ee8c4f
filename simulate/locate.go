package simulate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// lineIndex finds the source lines of field paths in one document, from its YAML node tree
// (go.yaml.in/yaml/v3 keeps each node's line; JSON documents parse as YAML too).
type lineIndex struct {
	root  *yamlv3.Node // nil when the document does not parse
	start int          // the document's first line in its source
}

// lineOf returns the source line of path ("spec.containers[0].image") in the document, or of
// the deepest ancestor found; 0 when not even the root is known.
func (d *document) lineOf(path string) int {
	if d.lines == nil {
		d.lines = &lineIndex{start: d.start}
		var n yamlv3.Node
		if yamlv3.Unmarshal(d.data, &n) == nil && len(n.Content) > 0 {
			d.lines.root = n.Content[0]
		}
	}
	return d.lines.lineOf(path)
}

func (ix *lineIndex) lineOf(path string) int {
	if ix.root == nil {
		return 0
	}
	_, line, _ := ix.nodeAt(path)
	return ix.start + line - 1
}

// nodeAt returns the node at path, or the deepest ancestor found, with its line within the
// document (for a mapping value, the line of its key); found reports whether it is the node at
// path itself. The root must be known.
func (ix *lineIndex) nodeAt(path string) (n *yamlv3.Node, line int, found bool) {
	n, line = ix.root, ix.root.Line
	segs := splitPath(path)
	for len(segs) > 0 {
		next, used, at := child(n, segs)
		if next == nil {
			return n, line, false
		}
		n, segs, line = next, segs[used:], at
	}
	return n, line, true
}

// plainScalar returns the text of the value at path in the document when it is a scalar written
// without quotes (false otherwise, or when the path is not found).
func (d *document) plainScalar(path string) (string, bool) {
	d.lineOf("") // builds the index
	if d.lines.root == nil {
		return "", false
	}
	n, _, found := d.lines.nodeAt(path)
	if !found || n.Kind != yamlv3.ScalarNode || n.Style != 0 {
		return "", false
	}
	return n.Value, true
}

// splitPath splits a field path into keys and indices: "a.b[2].c" -> a, b, [2], c.
func splitPath(path string) []string {
	var out []string
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			switch {
			case i < 0:
				out, part = append(out, part), ""
			case i > 0:
				out, part = append(out, part[:i]), part[i:]
			default:
				j := strings.IndexByte(part, ']')
				if j < 0 {
					return append(out, part)
				}
				out, part = append(out, part[:j+1]), part[j+1:]
			}
		}
	}
	return out
}

// child returns the node that the first segments of segs lead to from n, how many segments
// it used and its line (for a mapping value, the line of its key): an index "[i]" into a
// sequence, or a key into a mapping (keys containing dots, such as label keys, span several
// segments).
func child(n *yamlv3.Node, segs []string) (*yamlv3.Node, int, int) {
	switch n.Kind {
	case yamlv3.SequenceNode:
		s := segs[0]
		if !strings.HasPrefix(s, "[") {
			return nil, 0, 0
		}
		i, err := strconv.Atoi(strings.Trim(s, "[]"))
		if err != nil || i < 0 || i >= len(n.Content) {
			return nil, 0, 0
		}
		return n.Content[i], 1, n.Content[i].Line
	case yamlv3.MappingNode:
		for used := 1; used <= len(segs); used++ {
			key := strings.Join(segs[:used], ".")
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					return n.Content[i+1], used, n.Content[i].Line
				}
			}
		}
	}
	return nil, 0, 0
}

// valueAt returns the value at field path ("spec.containers[0].resources.requests.cpu") in v,
// a decoded JSON value; keys containing dots (label keys, "nvidia.com/gpu") span several
// segments, as in child. ok is false when the path is not found.
func valueAt(v any, path string) (val any, ok bool) {
	for segs := splitPath(path); len(segs) > 0; {
		if v, _, segs, ok = stepInto(v, segs); !ok {
			return nil, false
		}
	}
	return v, true
}

// stepInto takes the first step of segs (from splitPath) into v, a decoded JSON value: a list
// item for "[i]", or the mapping key made of the fewest segments joined by dots that v holds.
// It returns the value reached, its key (an int index or a string key), the segments left, and
// false when v has no such item or key.
func stepInto(v any, segs []string) (next, key any, rest []string, ok bool) {
	switch n := v.(type) {
	case []any:
		if !strings.HasPrefix(segs[0], "[") {
			return nil, nil, nil, false
		}
		i, err := strconv.Atoi(strings.Trim(segs[0], "[]"))
		if err != nil || i < 0 || i >= len(n) {
			return nil, nil, nil, false
		}
		return n[i], i, segs[1:], true
	case map[string]any:
		for used := 1; used <= len(segs); used++ {
			k := strings.Join(segs[:used], ".")
			if next, has := n[k]; has {
				return next, k, segs[used:], true
			}
		}
	}
	return nil, nil, nil, false
}

// Bounds of the search for invalid fields: at most maxInvalidFields are reported per object, and
// at most maxTrialDecodes decodes are tried, so that a large object full of errors stays cheap.
const (
	maxInvalidFields = 50
	maxTrialDecodes  = 5000
)

// invalidField is a field that makes the typed decode fail, and how to put it back or take it
// out of the object (a mapping key deleted, a list item set to null).
type invalidField struct {
	path     string
	del, put func()
}

// fieldSearch finds every field that makes decode of root fail. It removes fields from root
// while it searches; restore puts them back.
type fieldSearch struct {
	root   map[string]any
	decode func([]byte) error
	found  []invalidField
	trials int
}

// decodes reports whether root, as it now stands, decodes.
func (s *fieldSearch) decodes() bool {
	return s.err() == nil
}

func (s *fieldSearch) err() error {
	s.trials++
	b, err := json.Marshal(s.root)
	if err != nil {
		return err
	}
	return s.decode(b)
}

func (s *fieldSearch) exhausted() bool {
	return len(s.found) >= maxInvalidFields || s.trials >= maxTrialDecodes
}

// slot is one child of a mapping or list.
type slot struct {
	seg      string
	val      any
	del, put func()
}

// slots lists the children of node: mapping keys in order, list items by index.
func slots(node any) []slot {
	switch n := node.(type) {
	case map[string]any:
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]slot, 0, len(keys))
		for _, k := range keys {
			v := n[k]
			out = append(out, slot{seg: k, val: v, del: func() { delete(n, k) }, put: func() { n[k] = v }})
		}
		return out
	case []any:
		out := make([]slot, 0, len(n))
		for i, v := range n {
			out = append(out, slot{seg: "[" + strconv.Itoa(i) + "]", val: v, del: func() { n[i] = nil }, put: func() { n[i] = v }})
		}
		return out
	}
	return nil
}

func joinPath(path, seg string) string {
	if path == "" || strings.HasPrefix(seg, "[") {
		return path + seg
	}
	return path + "." + seg
}

// within finds the invalid fields in node (at path; self removes node from its parent), given
// that root fails to decode and decodes without node: every failure lies within node. It
// removes each invalid field it finds, so that afterwards root decodes (unless the search is
// exhausted). Children are removed one by one until root decodes: the last one removed holds a
// failure, and the search descends into it with its earlier siblings still removed; then the
// siblings are put back and the scan repeats while root fails. When root fails even with all
// children removed, node itself is invalid (a value of the wrong type).
func (s *fieldSearch) within(node any, path string, self slot) {
	kids := slots(node)
	for !s.exhausted() {
		var removed []slot
		hit := false
		for _, k := range kids {
			k.del()
			removed = append(removed, k)
			if hit = s.decodes(); hit || s.exhausted() {
				break
			}
		}
		if !hit && s.exhausted() {
			for _, k := range removed {
				k.put()
			}
			return
		}
		if !hit {
			for _, k := range removed {
				k.put()
			}
			if self.del != nil {
				self.del()
			}
			s.found = append(s.found, invalidField{path: path, del: self.del, put: self.put})
			return
		}
		culprit := removed[len(removed)-1]
		culprit.put()
		s.within(culprit.val, joinPath(path, culprit.seg), culprit)
		for _, k := range removed[:len(removed)-1] {
			k.put()
		}
		if s.decodes() {
			return
		}
	}
}

// restore puts every removed field back.
func (s *fieldSearch) restore() {
	for _, f := range s.found {
		if f.put != nil {
			f.put()
		}
	}
}

// invalidFields finds the fields that make decode of obj fail, each on its own: it returns the
// path of each ("" when the object itself cannot be decoded) with the error decode gives when
// only that field is wrong, and whether obj decodes once they are all left out (false when
// more than maxInvalidFields, or the search is cut short). When clean is not nil and the
// remainder decodes, clean is called with the remainder's JSON. obj is restored before
// returning.
func invalidFields(obj map[string]any, decode func([]byte) error, clean func([]byte)) (paths []string, reasons []error, ok bool) {
	s := &fieldSearch{root: obj, decode: decode}
	defer s.restore()
	s.within(obj, "", slot{})
	if b, err := json.Marshal(obj); err == nil && decode(b) == nil {
		ok = true
		if clean != nil {
			clean(b)
		}
	}
	// Report in path order (the search finds the last of several siblings first).
	sort.SliceStable(s.found, func(i, j int) bool { return s.found[i].path < s.found[j].path })
	for _, f := range s.found {
		if f.put == nil { // the object itself
			paths, reasons = append(paths, f.path), append(reasons, s.err())
			continue
		}
		f.put()
		err := s.err()
		f.del()
		if err == nil {
			// Invalid only beside another invalid field: report it as the search met it.
			err = errors.New("invalid value")
		}
		paths, reasons = append(paths, f.path), append(reasons, err)
	}
	return paths, reasons, ok
}

// newLike returns a new zero value of the type v points to.
func newLike(v any) any {
	return reflect.New(reflect.TypeOf(v).Elem()).Interface()
}

// nonFiniteNumber is a number of a document that JSON cannot hold (.inf, -.inf, .nan: YAML
// floats): its node, its path in the document ("spec.limits.resources.cpu") and the error
// saying so at its line.
type nonFiniteNumber struct {
	node *yamlv3.Node
	path string
	err  *SourceError
}

// nonFinite returns the numbers of the document that JSON cannot hold, in document order, each
// with an error at its field path and line. kubectl converts YAML to JSON before sending it,
// and that conversion fails on them ("json: unsupported value: +Inf"), without saying where.
// Nil when there is none or the document does not parse.
func (d *document) nonFinite() []nonFiniteNumber {
	d.lineOf("") // builds the index
	if d.lines.root == nil {
		return nil
	}
	var out []nonFiniteNumber
	var walk func(n *yamlv3.Node, path string, line int)
	walk = func(n *yamlv3.Node, path string, line int) {
		switch n.Kind {
		case yamlv3.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], joinPath(path, n.Content[i].Value), n.Content[i].Line)
			}
		case yamlv3.SequenceNode:
			for i, c := range n.Content {
				walk(c, joinPath(path, "["+strconv.Itoa(i)+"]"), c.Line)
			}
		case yamlv3.ScalarNode, yamlv3.AliasNode:
			value := n
			if n.Kind == yamlv3.AliasNode { // *name, of an anchored number
				value = n.Alias
			}
			var f float64
			if value != nil && value.Kind == yamlv3.ScalarNode && value.ShortTag() == "!!float" && value.Decode(&f) == nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
				out = append(out, nonFiniteNumber{node: n, path: path, err: &SourceError{Source: d.source, Line: d.start + line - 1, Path: path,
					Reason: fmt.Sprintf("Invalid value: %s: not a finite number (JSON, which kubectl sends to the API server, has no infinity or NaN)", value.Value)}})
			}
		}
	}
	walk(d.lines.root, "", d.lines.root.Line)
	return out
}

// withoutNonFinite returns the document's text with each of the numbers written null instead,
// so that the rest of the document can be read and checked; lines stay where they are. ok is
// false when a number is not found where its node says (the caller then reports the numbers
// alone).
func (d *document) withoutNonFinite(nums []nonFiniteNumber) (data []byte, ok bool) {
	lines := strings.SplitAfter(string(d.data), "\n")
	// Later numbers first, so that a replacement does not move the ones before it on its line.
	sorted := append([]nonFiniteNumber{}, nums...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].node, sorted[j].node
		return a.Line > b.Line || (a.Line == b.Line && a.Column > b.Column)
	})
	for _, n := range sorted {
		if n.node.Kind == yamlv3.AliasNode {
			continue // it stays an alias, of the anchored number written null
		}
		i := n.node.Line - 1
		if i < 0 || i >= len(lines) || n.node.Value == "" {
			return nil, false
		}
		// The node's column counts characters from 1; it is where the node starts, its tag
		// (!!float) or anchor (&a) included.
		line := []rune(lines[i])
		col := n.node.Column - 1
		if col < 0 || col > len(line) {
			return nil, false
		}
		at := strings.Index(string(line[col:]), n.node.Value)
		if at < 0 {
			return nil, false
		}
		// Between them, a tag goes (null is no float) and an anchor stays (an alias may name it).
		rest := string(line[col:])
		var keep []string
		for _, f := range strings.Fields(rest[:at]) {
			if strings.HasPrefix(f, "&") {
				keep = append(keep, f)
			}
		}
		keep = append(keep, "null")
		lines[i] = string(line[:col]) + strings.Join(keep, " ") + rest[at+len(n.node.Value):]
	}
	return []byte(strings.Join(lines, "")), true
}

// deleteAt removes the field at path from v, a decoded JSON value: a mapping key is deleted, a
// list item set to null (as the search for invalid fields leaves them out). Keys containing
// dots span several segments, as in valueAt. Nothing happens when there is no such field.
func deleteAt(v any, path string) {
	for segs := splitPath(path); len(segs) > 0; {
		next, key, rest, ok := stepInto(v, segs)
		if !ok {
			return
		}
		if len(rest) == 0 {
			switch n := v.(type) {
			case []any:
				n[key.(int)] = nil
			case map[string]any:
				delete(n, key.(string))
			}
			return
		}
		v, segs = next, rest
	}
}
