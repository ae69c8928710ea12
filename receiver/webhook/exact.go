package webhook

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// Unmarshal decodes a provider's JSON body into v, a pointer to a struct,
// as encoding/json does, but with the provider's field names exact: a key
// that differs from one of v's fields only in case (encoding/json would
// take "AuthentiCAtion_keY" for "authentication_key"), or a field given
// twice (encoding/json would keep the last), is a Malformed error, at any
// depth. A body that is not JSON gives encoding/json's *json.SyntaxError.
func Unmarshal(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := exactNames(dec, reflect.TypeOf(v)); err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// exactNames reads one JSON value from dec and checks the names of every
// object in it against the fields of t (nil: any names).
func exactNames(dec *json.Decoder, t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		fields := jsonFields(t)
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			var ft reflect.Type
			if f, ok := fields[key]; ok {
				if seen[key] {
					return Malformed("field %q appears twice", key)
				}
				seen[key], ft = true, f
			} else {
				for name := range fields {
					if strings.EqualFold(name, key) {
						return Malformed("a field is named like %q in another case: field names are exact", name)
					}
				}
			}
			if err := exactNames(dec, ft); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
		return err
	case json.Delim('['):
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for dec.More() {
			if err := exactNames(dec, et); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil // a scalar
}

// jsonFields maps the JSON names of struct t's fields to their types (nil
// for a type that is not a struct, whose objects may have any names).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct || t == reflect.TypeFor[json.RawMessage]() {
		return nil
	}
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
