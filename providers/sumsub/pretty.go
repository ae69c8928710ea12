package sumsub

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/idvflow/idvflow/providers/sim"
)

// Pretty is v as Sumsub sends its webhooks: pretty-printed in Jackson's
// default style, `"key" : value`, two spaces of indent, arrays on one
// line. The digest covers these exact bytes; a parser that re-encoded the
// body would never check.
func Pretty(v any) []byte {
	var b bytes.Buffer
	pretty(&b, v, 0)
	return b.Bytes()
}

func pretty(b *bytes.Buffer, v any, depth int) {
	indent := strings.Repeat("  ", depth+1)
	switch x := v.(type) {
	case sim.Object:
		if len(x) == 0 {
			b.WriteString("{ }")
			return
		}
		b.WriteString("{\n")
		for i, f := range x {
			if i > 0 {
				b.WriteString(",\n")
			}
			k, _ := json.Marshal(f.Key)
			b.WriteString(indent)
			b.Write(k)
			b.WriteString(" : ")
			pretty(b, f.Value, depth+1)
		}
		b.WriteString("\n" + strings.Repeat("  ", depth) + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[ ]")
			return
		}
		b.WriteString("[ ")
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			pretty(b, e, depth)
		}
		b.WriteString(" ]")
	default:
		b.Write(sim.JSON(x))
	}
}
