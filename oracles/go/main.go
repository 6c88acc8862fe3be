// Command k8s-oracle answers, for each input line, what the Go reference (k8s.io/apimachinery)
// does with it. It is the oracle of the SDK's differential test
// (crates/k8s-core/tests/go_differential.rs).
//
// Input: one JSON object per line on stdin. Output: one JSON object per input line, in order.
//
//	{"op":"q","a":"1.5Gi","b":"1G"}  resource.ParseQuantity(a) (and b):
//	    {"ok":true,"str":a.String(),"canon":canonical String(),"bok":true,"cmp":a.Cmp(b)}
//	{"op":"qj","a":"<json text>"}    json.Unmarshal(a, &resource.Quantity{}):
//	    {"ok":true,"str":String(),"canon":canonical String()}
//	{"op":"t","a":"2024-…"}          json.Unmarshal(json.Marshal(a), &metav1.Time{}) (mt: MicroTime):
//	    {"ok":true,"sec":Unix(),"nsec":Nanosecond(),"out":string(MarshalJSON())}
//
// "str" is String() as Go returns it: the input itself when ParseQuantity's fast path found it
// canonical (which keeps "+1", "01", "1E3" verbatim). "canon" is String() after the cached string
// is dropped (Neg twice), the canonical spelling the SDK's Quantity::canonical computes.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type input struct {
	Op string  `json:"op"`
	A  string  `json:"a"`
	B  *string `json:"b,omitempty"`
}

type output struct {
	Ok    bool    `json:"ok"`
	Err   string  `json:"err,omitempty"`
	Str   *string `json:"str,omitempty"`
	Canon *string `json:"canon,omitempty"`
	Bok   *bool   `json:"bok,omitempty"`
	Cmp   *int    `json:"cmp,omitempty"`
	Sec   *int64  `json:"sec,omitempty"`
	Nsec  *int    `json:"nsec,omitempty"`
	Out   *string `json:"out,omitempty"`
}

func canonical(q resource.Quantity) string {
	c := q.DeepCopy()
	c.Neg()
	c.Neg()
	return c.String()
}

func quantity(q resource.Quantity, out *output) {
	s := q.String()
	c := canonical(q)
	out.Ok = true
	out.Str = &s
	out.Canon = &c
}

func answer(in input) (out output) {
	defer func() {
		if r := recover(); r != nil {
			out = output{Err: fmt.Sprintf("panic: %v", r)}
		}
	}()
	switch in.Op {
	case "q":
		a, err := resource.ParseQuantity(in.A)
		if err != nil {
			return output{Err: err.Error()}
		}
		quantity(a, &out)
		if in.B != nil {
			b, err := resource.ParseQuantity(*in.B)
			ok := err == nil
			out.Bok = &ok
			if ok {
				cmp := a.Cmp(b)
				out.Cmp = &cmp
			}
		}
	case "qj":
		var q resource.Quantity
		if err := json.Unmarshal([]byte(in.A), &q); err != nil {
			return output{Err: err.Error()}
		}
		quantity(q, &out)
	case "t", "mt":
		text, err := json.Marshal(in.A)
		if err != nil {
			return output{Err: err.Error()}
		}
		var t metav1.Time
		var marshal func() ([]byte, error)
		if in.Op == "t" {
			err = json.Unmarshal(text, &t)
			marshal = t.MarshalJSON
		} else {
			var m metav1.MicroTime
			err = json.Unmarshal(text, &m)
			t.Time = m.Time
			marshal = m.MarshalJSON
		}
		if err != nil {
			return output{Err: err.Error()}
		}
		formatted, err := marshal()
		if err != nil {
			return output{Err: "marshal: " + err.Error()}
		}
		sec, nsec, s := t.Unix(), t.Nanosecond(), string(formatted)
		out = output{Ok: true, Sec: &sec, Nsec: &nsec, Out: &s}
	default:
		return output{Err: "unknown op " + in.Op}
	}
	return out
}

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	writer := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer writer.Flush()
	encoder := json.NewEncoder(writer)
	encoder.SetEscapeHTML(false)
	for scanner.Scan() {
		var in input
		var out output
		if err := json.Unmarshal(scanner.Bytes(), &in); err != nil {
			out = output{Err: "bad input line: " + err.Error()}
		} else {
			out = answer(in)
		}
		if err := encoder.Encode(out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
