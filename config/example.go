package config

import (
	"bytes"
	_ "embed"
)

//go:embed example.yaml
var example []byte

// Example returns a fully commented example config, as `bitbricks config init` writes it.
func Example() []byte { return bytes.Clone(example) }
