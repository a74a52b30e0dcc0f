package registry

import (
	"bytes"
	"encoding/base64"
	"slices"

	"go.etcd.io/bbolt"
)

// Page sizes of the list operations (AWS defaults and maximum).
const (
	defaultThingPage = 50
	defaultPage      = 25
	maxPage          = 250
)

// pageSize applies a list operation's default to 0 and refuses sizes outside 1..250.
func pageSize(n, def int, param string) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0 || n > maxPage:
		return 0, newError(ErrInvalidRequest, "Invalid %s %d: it must be between 1 and %d", param, n, maxPage)
	}
	return n, nil
}

// Token kinds keep a token of one list from being accepted by another.
const (
	tokThings          = 't'
	tokCertificates    = 'c'
	tokPolicies        = 'p'
	tokThingPrincipals = 'h'
	tokPrincipalThings = 'r'
	tokPolicyTargets   = 'g'
	tokThingTypes      = 'y'
	tokThingGroups     = 'k'
	tokGroupThings     = 'm'
	tokThingGroupsOf   = 'f'
	tokCACertificates  = 'a'
	tokCertsByCA       = 'b'
	tokTags            = 'x'
)

// encodeToken makes the opaque paging token that resumes a listing after key.
func encodeToken(kind byte, key []byte) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{kind}, key...))
}

// decodeToken returns the key a token resumes after; nil for an empty token.
func decodeToken(kind byte, token, param string) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 2 || raw[0] != kind {
		return nil, newError(ErrInvalidRequest, "Invalid %s: it was not returned by this operation", param)
	}
	return raw[1:], nil
}

// walk visits the keys of b that start with prefix, in ascending or descending order, beginning
// strictly after the key from (nil: at the first key). visit returns false to stop.
func walk(b *bbolt.Bucket, prefix, from []byte, ascending bool, visit func(k, v []byte) (bool, error)) error {
	c := b.Cursor()
	var k, v []byte
	switch {
	case ascending && from == nil:
		k, v = c.Seek(prefix)
	case ascending:
		k, v = c.Seek(from)
		if k != nil && bytes.Equal(k, from) {
			k, v = c.Next()
		}
	default:
		bound := from
		if bound == nil {
			bound = prefixEnd(prefix)
		}
		if bound == nil {
			k, v = c.Last()
		} else if k, v = c.Seek(bound); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	for k != nil && bytes.HasPrefix(k, prefix) {
		more, err := visit(k, v)
		if err != nil || !more {
			return err
		}
		if ascending {
			k, v = c.Next()
		} else {
			k, v = c.Prev()
		}
	}
	return nil
}

// prefixEnd returns the smallest key greater than every key with the prefix, or nil if there is
// none (empty prefix, or all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// pager collects one page of a walk: up to size items, peeking one more to know whether a next
// page exists, and remembers the key of the last item kept for the next token.
type pager struct {
	size int
	n    int
	last []byte
	more bool
}

// take reports whether the item at key k belongs on this page; once the page is full it records
// that more items follow and returns false, which also ends the walk.
func (p *pager) take(k []byte) bool {
	if p.n == p.size {
		p.more = true
		return false
	}
	p.n++
	p.last = bytes.Clone(k)
	return true
}

// token is the next page's token, empty on the last page.
func (p *pager) token(kind byte) string {
	if !p.more {
		return ""
	}
	return encodeToken(kind, p.last)
}

// pageNames pages a whole list of names, for the listings that gather their items from several
// places (a group and its descendants, a thing's groups and their ancestors): the names are
// sorted and deduplicated, and the token is the last name of the previous page, so a listing
// stays right when items come and go between pages.
func pageNames(names []string, kind byte, token string, maxResults, def int) ([]string, string, error) {
	size, err := pageSize(maxResults, def, "maxResults")
	if err != nil {
		return nil, "", err
	}
	from, err := decodeToken(kind, token, "nextToken")
	if err != nil {
		return nil, "", err
	}
	slices.Sort(names)
	names = slices.Compact(names)
	start := 0
	if from != nil {
		i, found := slices.BinarySearch(names, string(from))
		if found {
			i++
		}
		start = i
	}
	page := names[start:]
	if len(page) <= size {
		return page, "", nil
	}
	page = page[:size]
	return page, encodeToken(kind, []byte(page[size-1])), nil
}
