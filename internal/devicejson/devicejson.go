// Package devicejson holds the leniency AWS IoT Core shows to the JSON documents devices send
// on its reserved topics and data-plane routes (shadow, jobs, provisioning): C firmware often
// sends a document with the string's terminating NUL byte included (length + 1), or with a
// trailing newline, and AWS accepts both. Every service that reads device JSON trims with this
// package before decoding, so that they all tolerate the same bytes; it depends on nothing but
// the standard library, so the services can share it without depending on each other.
//
// Only the end of a document is forgiven. A NUL or anything else that is not JSON whitespace
// before or inside the document, or between it and the trailing NULs ({"a":1}\x00{"b":2}),
// stays an error of the decoder.
package devicejson

import "encoding/json"

// TrimTrailing returns data without the NUL bytes and JSON whitespace (space, tab, CR, LF) at
// its end, in any mix ("{}\x00", "{}\n", "{}\r\n\x00\x00"). It returns a sub-slice of data and
// copies nothing. A payload made only of those bytes trims to an empty slice.
func TrimTrailing(data []byte) []byte {
	end := len(data)
	for end > 0 {
		switch data[end-1] {
		case 0, ' ', '\t', '\r', '\n':
			end--
			continue
		}
		break
	}
	return data[:end]
}

// Unmarshal decodes one device JSON document into v, as json.Unmarshal does, after
// TrimTrailing. Data after the document that is not trailing NULs or whitespace is an error.
func Unmarshal(data []byte, v any) error {
	return json.Unmarshal(TrimTrailing(data), v)
}
