package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// secretName matches identifiers that hold a secret or something derived
// from one: passwords, node secrets, bcrypt hashes, MACs, token texts and
// digests, sealed pairs.
var secretName = regexp.MustCompile(`(?i)(secret|passw|hash|mac$|^mac|sealed|digest|^tok$|token$|^sum$)`)

// variableTimeCalls compare their arguments byte by byte and stop at the
// first difference.
var variableTimeCalls = map[string]bool{
	"bytes.Equal": true, "bytes.Compare": true, "bytes.EqualFold": true, "bytes.HasPrefix": true,
	"strings.Compare": true, "strings.EqualFold": true, "strings.HasPrefix": true,
	"slices.Equal": true, "reflect.DeepEqual": true,
}

// publicDigests are comparisons the name check flags that compare no
// secret, by file and source text.
var publicDigests = map[string]bool{
	// The snapshot file's SHA-256 checksum: an integrity check of bytes
	// that hold no secret (tokens appear in snapshots as digests only).
	"reader.go: sum != stored": true,
}

// TestSecrets_ComparedInConstantTime reads tokend's sources and fails on any
// ==, != or byte-wise comparison function applied to a value named like a
// secret. Secrets must be compared with subtle.ConstantTimeCompare or
// hmac.Equal, so that the time taken does not tell an attacker how many
// leading bytes were right. (Tokens are found by a map lookup of their
// SHA-256 digest, whose timing reveals nothing usable about the token.)
func TestSecrets_ComparedInConstantTime(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files := 0
	for _, dir := range []string{".", "credentials", "../fsm", "../raftnode", "../snapshot", "../cmd/tokend"} {
		paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(fset, path, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			files++
			ast.Inspect(f, func(node ast.Node) bool {
				what := variableTimeComparison(node)
				if what != "" && !publicDigests[filepath.Base(path)+": "+string(src[node.Pos()-f.FileStart:node.End()-f.FileStart])] {
					t.Errorf("%s: %s compares a secret in variable time; use subtle.ConstantTimeCompare or hmac.Equal",
						fset.Position(node.Pos()), what)
				}
				return true
			})
		}
	}
	if files < 20 {
		t.Fatalf("scanned only %d files: the test proves nothing", files)
	}
}

// variableTimeComparison describes node if it compares a secret-named value
// in variable time, or returns "".
func variableTimeComparison(node ast.Node) string {
	switch n := node.(type) {
	case *ast.BinaryExpr:
		if n.Op != token.EQL && n.Op != token.NEQ {
			return ""
		}
		if isSecret(n.X) && !isConstantOperand(n.Y) || isSecret(n.Y) && !isConstantOperand(n.X) {
			return "a " + n.Op.String() + " comparison"
		}
	case *ast.CallExpr:
		sel, ok := n.Fun.(*ast.SelectorExpr)
		if !ok {
			return ""
		}
		pkg, ok := sel.X.(*ast.Ident)
		if !ok || !variableTimeCalls[pkg.Name+"."+sel.Sel.Name] {
			return ""
		}
		for _, arg := range n.Args {
			if isSecret(arg) {
				return pkg.Name + "." + sel.Sel.Name
			}
		}
	}
	return ""
}

// isSecret reports an expression whose value is named like a secret:
// x, a.x, x[i], x[:n], string(x) or []byte(x) with x matching secretName.
// Constants (selfPassword), error values (errNoSuchToken) and exported
// names of tokend's packages (fsm.ByAccessToken) are kinds, not secrets.
func isSecret(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		isConst := x.Obj != nil && x.Obj.Kind == ast.Con
		return !isConst && !strings.HasPrefix(x.Name, "err") && secretName.MatchString(x.Name)
	case *ast.SelectorExpr:
		if pkg, ok := x.X.(*ast.Ident); ok && ast.IsExported(x.Sel.Name) && pkg.Obj == nil && isPackageName(pkg.Name) {
			return false
		}
		return isSecret(x.Sel)
	case *ast.IndexExpr:
		return isSecret(x.X)
	case *ast.SliceExpr:
		return isSecret(x.X)
	case *ast.ParenExpr:
		return isSecret(x.X)
	case *ast.CallExpr:
		if len(x.Args) == 1 && isConversion(x.Fun) {
			return isSecret(x.Args[0])
		}
	}
	return false
}

// isPackageName reports the packages whose exported names tokend compares
// against: kinds and statuses, never secrets.
func isPackageName(name string) bool {
	switch name {
	case "fsm", "raftnode", "snapshot", "api", "credentials", "http", "tls", "x509", "pem":
		return true
	}
	return false
}

// isConversion reports string(...) and []byte(...).
func isConversion(fun ast.Expr) bool {
	if id, ok := fun.(*ast.Ident); ok {
		return id.Name == "string"
	}
	arr, ok := fun.(*ast.ArrayType)
	if !ok || arr.Len != nil {
		return false
	}
	id, ok := arr.Elt.(*ast.Ident)
	return ok && id.Name == "byte"
}

// isConstantOperand reports a comparison's other side that reveals nothing
// by timing: a literal, nil, a zero value, a length or a named constant kind.
func isConstantOperand(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		isConst := x.Obj != nil && x.Obj.Kind == ast.Con
		return isConst || x.Name == "nil" || x.Name == "true" || x.Name == "false" || strings.HasPrefix(x.Name, "err")
	case *ast.CompositeLit:
		return len(x.Elts) == 0
	case *ast.CallExpr:
		id, ok := x.Fun.(*ast.Ident)
		return ok && (id.Name == "len" || id.Name == "cap")
	case *ast.SelectorExpr:
		pkg, ok := x.X.(*ast.Ident)
		return ok && isPackageName(pkg.Name)
	}
	return false
}
