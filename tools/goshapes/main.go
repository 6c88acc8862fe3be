// Command goshapes prints, for every Go struct of the Kubernetes API packages that has
// protobuf-tagged fields, how Go's protobuf encoder treats each field: facts only (definition,
// field-number path, shape, json omission), no descriptions.
//
// Usage: goshapes IMPORT_PATH=DIR... (a module's import path and its source directory, for
// example k8s.io/api=$(go env GOMODCACHE)/k8s.io/api@v0.36.3). See refresh.sh.
//
// One line per field: `<definition> <path> <shape> [omitempty] [omitzero]`, where the definition
// is the OpenAPI name (`io.k8s.api.core.v1.PodSpec`), the path is the field number (or numbers
// through Go embedded structs, `2.2.1`) and the shape is `ptr` (written only when set), `value`
// (a Go value: always written, even when empty), `list`, `map` or `bytes`.
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

type field struct {
	number    string
	shape     string
	omitEmpty bool
	omitZero  bool
	// embedded: the struct a Go embedded (JSON-inlined) field holds, by key.
	embedded string
}

type structType struct {
	key    string // import path + "." + name
	fields []field
}

var structs = map[string]*structType{}

// aliases: `type X = other.Y` and `type X other.Y`, by key.
var aliases = map[string]string{}

func lookup(key string) (*structType, bool) {
	for i := 0; i < 8; i++ {
		if st, ok := structs[key]; ok {
			return st, true
		}
		next, ok := aliases[key]
		if !ok {
			return nil, false
		}
		key = next
	}
	return nil, false
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goshapes IMPORT_PATH=DIR...")
		os.Exit(2)
	}
	for _, arg := range os.Args[1:] {
		prefix, dir, ok := strings.Cut(arg, "=")
		if !ok {
			fail("argument %q is not IMPORT_PATH=DIR", arg)
		}
		if err := scanModule(prefix, dir); err != nil {
			fail("%s: %v", dir, err)
		}
	}
	var lines []string
	keys := map[string]*structType{}
	for key, st := range structs {
		keys[key] = st
	}
	// `type X = v1.X` and `type X v1.X`: the same fields under another definition.
	for key := range aliases {
		if st, ok := lookup(key); ok {
			keys[key] = st
		}
	}
	for key, st := range keys {
		def := definitionName(key)
		var walk func(st *structType, prefix string, depth int)
		walk = func(st *structType, prefix string, depth int) {
			if depth > 8 {
				fail("%s: embedding deeper than 8", key)
			}
			for _, f := range st.fields {
				path := prefix + f.number
				line := def + " " + path + " " + f.shape
				if f.omitEmpty {
					line += " omitempty"
				}
				if f.omitZero {
					line += " omitzero"
				}
				lines = append(lines, line)
				if f.embedded != "" {
					inner, ok := lookup(f.embedded)
					if !ok {
						if strings.HasPrefix(f.embedded, "k8s.io/") {
							fail("%s: embedded struct %s not found", key, f.embedded)
						}
						// A standard library type (time.Duration): a scalar.
						continue
					}
					walk(inner, path+".", depth+1)
				}
			}
		}
		walk(st, "", 0)
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "goshapes: "+format+"\n", args...)
	os.Exit(1)
}

// definitionName turns `k8s.io/api/core/v1.PodSpec` into `io.k8s.api.core.v1.PodSpec`.
func definitionName(key string) string {
	rest := strings.TrimPrefix(key, "k8s.io/")
	return "io.k8s." + strings.ReplaceAll(rest, "/", ".")
}

func scanModule(prefix, dir string) error {
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if name == "testdata" || (strings.HasPrefix(name, ".") && path != dir) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(dir, filepath.Dir(path))
		if err != nil {
			return err
		}
		importPath := prefix
		if rel != "." {
			importPath += "/" + filepath.ToSlash(rel)
		}
		return scanFile(importPath, path)
	})
}

func scanFile(importPath, path string) error {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	imports := map[string]string{}
	for _, imp := range file.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			return err
		}
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = p
	}
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.TYPE {
			continue
		}
		for _, spec := range gen.Specs {
			ts := spec.(*ast.TypeSpec)
			if _, isStruct := ts.Type.(*ast.StructType); !isStruct {
				aliases[importPath+"."+ts.Name.Name] = resolve(importPath, imports, ts.Type)
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			key := importPath + "." + ts.Name.Name
			var fields []field
			for _, f := range st.Fields.List {
				if f.Tag == nil {
					continue
				}
				tagText, err := strconv.Unquote(f.Tag.Value)
				if err != nil {
					return fmt.Errorf("%s: %s: bad tag", path, key)
				}
				tag := reflect.StructTag(tagText)
				pb, ok := tag.Lookup("protobuf")
				if !ok || pb == "-" {
					continue
				}
				parts := strings.Split(pb, ",")
				if len(parts) < 2 {
					return fmt.Errorf("%s: %s: bad protobuf tag %q", path, key, pb)
				}
				out := field{number: parts[1], shape: shape(f.Type)}
				jsonOpts := strings.Split(tag.Get("json"), ",")
				for _, o := range jsonOpts[1:] {
					switch o {
					case "omitempty":
						out.omitEmpty = true
					case "omitzero":
						out.omitZero = true
					}
				}
				// A Go embedded struct without a JSON name is inlined in JSON: its fields are
				// the definition's (`NamedRuleWithOperations.apiGroups` is 2.2.1).
				if len(f.Names) == 0 && jsonOpts[0] == "" {
					out.embedded = resolve(importPath, imports, f.Type)
				}
				fields = append(fields, out)
			}
			if len(fields) > 0 {
				structs[key] = &structType{key: key, fields: fields}
			}
		}
	}
	return nil
}

func shape(t ast.Expr) string {
	switch t := t.(type) {
	case *ast.StarExpr:
		return "ptr"
	case *ast.ArrayType:
		if id, ok := t.Elt.(*ast.Ident); ok && id.Name == "byte" && t.Len == nil {
			return "bytes"
		}
		return "list"
	case *ast.MapType:
		return "map"
	default:
		return "value"
	}
}

func resolve(importPath string, imports map[string]string, t ast.Expr) string {
	switch t := t.(type) {
	case *ast.Ident:
		return importPath + "." + t.Name
	case *ast.SelectorExpr:
		if pkg, ok := t.X.(*ast.Ident); ok {
			return imports[pkg.Name] + "." + t.Sel.Name
		}
	case *ast.StarExpr:
		return resolve(importPath, imports, t.X)
	}
	return ""
}
