package components

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/charmbracelet/bubbles/key"
)

// Bindings returns every key.Binding in keymap, a struct (or pointer to one) whose
// fields are bindings, nested keymap structs or arrays of bindings.
func Bindings(keymap any) []key.Binding {
	var out []key.Binding
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Struct:
			if b, ok := v.Interface().(key.Binding); ok {
				out = append(out, b)
				return
			}
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(keymap))
	return out
}

// Conflicts lists the keys that more than one enabled binding answers to, one line
// each, sorted. Bindings in one scope (keys delivered to the same handler) must not
// share a key.
func Conflicts(bindings []key.Binding) []string {
	owners := map[string][]string{}
	for _, b := range bindings {
		if !b.Enabled() {
			continue
		}
		for _, k := range b.Keys() {
			owners[k] = append(owners[k], b.Help().Desc)
		}
	}
	var out []string
	for k, who := range owners {
		if len(who) > 1 {
			out = append(out, fmt.Sprintf("%q is bound to %q", k, who))
		}
	}
	sort.Strings(out)
	return out
}
