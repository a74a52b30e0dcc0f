package pki

import (
	"os"
	"path/filepath"
	"strings"
)

// shown is how logs name a file of the CA folder, by the rule of the start banner: relative to
// the working directory when inside it, else absolute.
func (a *Authority) shown(name string) string {
	p := a.path(name)
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(wd, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return rel
}
