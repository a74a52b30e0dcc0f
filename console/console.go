// Package console is the emulator's web console: plain HTML, CSS and JavaScript embedded in the
// binary and served on the API address under /console/. The pages are clients of the same HTTP
// API the AWS SDKs use (unsigned requests, so it needs the API without --sigv4-strict), of the
// emulator's own /_iotcore/ routes, and of MQTT over WebSocket at /mqtt with a URL the emulator
// presigns for them (POST /_iotcore/console/mqtt-url); nothing is fetched from elsewhere at run
// time.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Prefix is where the console is served.
const Prefix = "/console/"

// Handler serves the console's files under Prefix.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(Prefix, http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the console is read with GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:")
		files.ServeHTTP(w, r)
	})
}
