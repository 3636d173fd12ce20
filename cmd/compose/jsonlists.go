package main

import "reflect"

// emptyLists returns v with every nil slice it reaches (through struct
// fields, pointers, slices and embedded structs) made empty, so that
// --json prints [] for "none", never null. Slices behind a pointer are
// changed where they are: the values printed are the verb's own result.
// Maps are left as they are.
func emptyLists(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	cp := reflect.New(rv.Type()).Elem()
	cp.Set(rv)
	fillLists(cp, 0)
	return cp.Interface()
}

func fillLists(v reflect.Value, depth int) {
	if depth > 32 { // results are trees a few levels deep; never loop
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			e := v.Elem()
			if v.Kind() == reflect.Interface && !e.CanSet() {
				return
			}
			fillLists(e, depth+1)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); v.Type().Field(i).IsExported() && f.CanSet() {
				fillLists(f, depth+1)
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			if v.CanSet() && v.Type().Elem().Kind() != reflect.Uint8 { // []byte is base64, not a list
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			fillLists(v.Index(i), depth+1)
		}
	}
}
