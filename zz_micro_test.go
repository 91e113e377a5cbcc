package warden
import ("testing";"time";"crypto/sha256")
var sinkK [32]byte
func BenchmarkXMac(b *testing.B){ ba := newBasicAuth(nil, time.Second, time.Now); t := "YmVuY2gtY2xpZW50OmJlbmNoLXNlY3JldA=="; b.ReportAllocs(); for b.Loop(){ sinkK = ba.macOf(t)} }
func BenchmarkXSha(b *testing.B){ var buf [128]byte; t := "YmVuY2gtY2xpZW50OmJlbmNoLXNlY3JldA=="; b.ReportAllocs(); for b.Loop(){ n := copy(buf[32:], t); sinkK = sha256.Sum256(buf[:32+n])} }
func BenchmarkXNow(b *testing.B){ for b.Loop(){ _ = time.Now() } }
