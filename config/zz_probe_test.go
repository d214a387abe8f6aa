package config

import (
	"fmt"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

func TestProbe(t *testing.T) {
	src := "é: 1\nm:\n  - b: x   # hi\n    d: \"w\\\"x\" # keep\n  - b: 'it''s'\n    d: plain text here  \n  - d: |\n      lit\n  - d: >-\n      folded\n  - d:\n  - {d: flow}\n  - d: multi\n      line\n"
	f, err := parser.ParseBytes([]byte(src), parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		p, _ := yaml.PathString(fmt.Sprintf("$.m[%d].d", i))
		n, err := p.FilterFile(f)
		if err != nil {
			fmt.Println(i, err)
			continue
		}
		tk := n.GetToken()
		fmt.Printf("%d %T val=%q origin=%q pos=%d:%d off=%d\n", i, n, tk.Value, tk.Origin, tk.Position.Line, tk.Position.Column, tk.Position.Offset)
	}
}
