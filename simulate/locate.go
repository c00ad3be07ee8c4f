package simulate

import (
	"encoding/json"
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
	n := ix.root
	if n == nil {
		return 0
	}
	line := n.Line
	segs := splitPath(path)
	for len(segs) > 0 {
		next, used, at := child(n, segs)
		if next == nil {
			break
		}
		n, segs, line = next, segs[used:], at
	}
	return ix.start + line - 1
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

// failingPath finds the field that makes a typed decode fail: it removes one child at a time
// (a mapping key, or a list item set to null) and descends into the child whose removal lets
// ok succeed, down to a leaf. It returns the path found ("" when the object itself is the
// cause, or when removing no single child helps). obj is restored before returning.
func failingPath(obj map[string]any, ok func([]byte) bool) string {
	try := func() bool {
		b, err := json.Marshal(obj)
		return err == nil && ok(b)
	}
	var path strings.Builder
	var node any = obj
	for {
		next, seg := culprit(node, try)
		if next == nil && seg == "" {
			return path.String()
		}
		if !strings.HasPrefix(seg, "[") && path.Len() > 0 {
			path.WriteByte('.')
		}
		path.WriteString(seg)
		node = next
	}
}

// culprit returns the child of node whose removal makes try succeed, and its path segment.
func culprit(node any, try func() bool) (any, string) {
	switch n := node.(type) {
	case map[string]any:
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := n[k]
			delete(n, k)
			good := try()
			n[k] = v
			if good {
				return v, k
			}
		}
	case []any:
		for i, v := range n {
			n[i] = nil
			good := try()
			n[i] = v
			if good {
				return v, "[" + strconv.Itoa(i) + "]"
			}
		}
	}
	return nil, ""
}

// newLike returns a new zero value of the type v points to.
func newLike(v any) any {
	return reflect.New(reflect.TypeOf(v).Elem()).Interface()
}
