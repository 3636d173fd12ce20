package main

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// jsonsame FILE1 PATH1 FILE2 PATH2: the JSON values at the dotted paths
// (a.b.c; "." is the whole document) of two files are equal. plan --json
// and apply --json are held against each other with it: what plan prints
// is what apply runs.
func cmdJSONSame(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: jsonsame FILE1 PATH1 FILE2 PATH2")
	}
	a, b := jsonAt(ts, args[0], args[1]), jsonAt(ts, args[2], args[3])
	switch same := reflect.DeepEqual(a, b); {
	case !same && !neg:
		ts.Fatalf("%s %s is %s\n%s %s is %s", args[0], args[1], show(a), args[2], args[3], show(b))
	case same && neg:
		ts.Fatalf("%s %s and %s %s are both %s", args[0], args[1], args[2], args[3], show(a))
	}
}

func jsonAt(ts *testscript.TestScript, file, path string) any {
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile(file)), &v); err != nil {
		ts.Fatalf("%s: %v", file, err)
	}
	if path == "." {
		return v
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			ts.Fatalf("%s: %s: %q is not in an object", file, path, k)
		}
		if v, ok = m[k]; !ok {
			ts.Fatalf("%s: %s: no member %q", file, path, k)
		}
	}
	return v
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
