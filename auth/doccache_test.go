package auth

import (
	"fmt"
	"testing"
)

// TestDocumentCache: a text is parsed once and its document shared; a broken text is never
// kept; beyond its bound the cache still answers, without keeping more.
func TestDocumentCache(t *testing.T) {
	c := &documentCache{max: 2}
	text := func(i int) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/t%d"}]}`, i)
	}
	first, err := c.parse(text(1))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.parse(text(1))
	if err != nil || again != first {
		t.Fatalf("second parse of the same text: %p %v, want the cached %p", again, err, first)
	}
	if _, err := c.parse(`{"Statement":`); err == nil {
		t.Fatal("broken document parsed")
	}
	for i := 2; i <= 5; i++ {
		d, err := c.parse(text(i))
		if err != nil || d == nil || len(d.Statements) != 1 {
			t.Fatalf("text %d beyond the bound: %+v %v", i, d, err)
		}
	}
	if n := c.size.Load(); n != 2 {
		t.Fatalf("cache keeps %d documents, want its bound 2", n)
	}
	kept := 0
	c.docs.Range(func(any, any) bool { kept++; return true })
	if kept != 2 {
		t.Fatalf("cache map holds %d documents, want 2", kept)
	}
}
