package runtime_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEInShort: the README's "In short" snippet is inShort's body, up
// to white space. Until README.md carries the compilable snippet (the one
// with "{ ... }" is the old one), the test says so and skips.
func TestREADMEInShort(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## In short\n\n```go\n")
	snippet, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no go block under \"## In short\"")
	}
	if strings.Contains(snippet, "{ ... }") {
		t.Skip("README.md still has the snippet that does not compile: replace it with the body of inShort in runtime/example_test.go")
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(src), "// README \"In short\" begins\n")
	body, _, _ = strings.Cut(body, "\t// README \"In short\" ends")
	if norm(snippet) != norm(body) {
		t.Fatalf("README.md's \"In short\" is not Example_inShort's code:\n--- README\n%s\n--- inShort\n%s", norm(snippet), norm(body))
	}
}

// norm trims each line and folds runs of blanks: gofmt aligns comments.
func norm(s string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(out, "\n")
}
