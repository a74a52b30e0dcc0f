package auth

import (
	"sync"
	"sync/atomic"
)

// documentCache holds parsed policy documents by their text. Every connection compiles the
// policies in force for it at CONNECT, and a fleet shares a handful of policies: parsing each text
// once saves the work, and the connections' compiled policies (which point into their documents)
// share one copy instead of holding one each. Documents are immutable once parsed.
type documentCache struct {
	docs sync.Map // text → *Document
	size atomic.Int64
	max  int64 // texts beyond this many are parsed each time, not kept
}

// parsedDocuments is the cache CompilePolicies uses: policies hold at most 2,048 characters (AWS's
// limit), so a full cache holds a few megabytes at most.
var parsedDocuments = &documentCache{max: 1024}

// parse returns the parsed document of text, from the cache when it has been parsed before.
func (c *documentCache) parse(text string) (*Document, error) {
	if d, ok := c.docs.Load(text); ok {
		return d.(*Document), nil
	}
	d, err := ParseDocument(text)
	if err != nil {
		return nil, err
	}
	if c.size.Load() < c.max {
		if v, loaded := c.docs.LoadOrStore(text, d); loaded {
			return v.(*Document), nil
		}
		c.size.Add(1)
	}
	return d, nil
}
