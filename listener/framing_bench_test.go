package listener

import "testing"

func BenchmarkPacketGuardPassThrough(b *testing.B) {
	g := newPacketGuard(1024, 1<<20)
	if _, err := g.scan(append([]byte(nil), connect311...)); err != nil {
		b.Fatal(err)
	}
	g.out = nil
	stream := make([]byte, 0, 1024)
	for len(stream)+len(publish) <= 1024 {
		stream = append(stream, publish...)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for i := 0; i < b.N; i++ {
		if _, err := g.scan(stream); err != nil {
			b.Fatal(err)
		}
	}
}
