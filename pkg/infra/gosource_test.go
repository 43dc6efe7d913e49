package infra

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
)

// envReads returns the environment variables that the Go files of dir (tests excluded) read with
// os.Getenv or os.LookupEnv. A name may be a string literal or a string constant, of this package
// or of another package of the module (e.g. awsapp.ReleasesTableEnv). A name it cannot resolve is
// an error, so that a variable read through a computed name cannot slip past the template test.
func envReads(root, dir string) ([]string, error) {
	files, err := parseDir(dir)
	if err != nil {
		return nil, err
	}
	module, err := modulePath(root)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		imports := importNames(f)
		var errs []string
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Getenv" && sel.Sel.Name != "LookupEnv") {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok || imports[pkg.Name] != "os" || len(call.Args) != 1 {
				return true
			}
			name, err := constString(call.Args[0], files, imports, root, module)
			if err != nil {
				errs = append(errs, err.Error())
				return true
			}
			names = append(names, name)
			return true
		})
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s: %s", dir, strings.Join(errs, "; "))
		}
	}
	return sortedSet(names), nil
}

// constString evaluates e as a string literal, a constant of files' package, or pkg.Const of a
// package in the module.
func constString(e ast.Expr, files []*ast.File, imports map[string]string, root, module string) (string, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			return strconv.Unquote(e.Value)
		}
	case *ast.Ident:
		return findConst(files, e.Name)
	case *ast.SelectorExpr:
		pkg, ok := e.X.(*ast.Ident)
		if !ok {
			break
		}
		path := imports[pkg.Name]
		rel, ok := strings.CutPrefix(path, module+"/")
		if !ok {
			return "", fmt.Errorf("%s.%s: constant of %q, outside the module", pkg.Name, e.Sel.Name, path)
		}
		other, err := parseDir(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return "", err
		}
		return findConst(other, e.Sel.Name)
	}
	return "", fmt.Errorf("environment variable name %T is neither a string literal nor a string constant", e)
}

func findConst(files []*ast.File, name string) (string, error) {
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if id.Name != name || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						return strconv.Unquote(lit.Value)
					}
					return "", fmt.Errorf("constant %s is not a string literal", name)
				}
			}
		}
	}
	return "", fmt.Errorf("constant %s not found", name)
}

// parseDir parses the non-test Go files of a directory.
func parseDir(dir string) ([]*ast.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no Go files", dir)
	}
	return files, nil
}

// importNames maps each name a file refers to an import by to the import's path.
func importNames(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		m[name] = path
	}
	return m
}

func modulePath(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	path := modfile.ModulePath(data)
	if path == "" {
		return "", fmt.Errorf("go.mod names no module")
	}
	return path, nil
}

// hasMain reports whether dir holds package main with a func main.
func hasMain(dir string) error {
	files, err := parseDir(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.Name.Name != "main" {
			return fmt.Errorf("%s: package %s, want main", dir, f.Name.Name)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "main" {
				return nil
			}
		}
	}
	return fmt.Errorf("%s: no func main", dir)
}
