package payloads

import (
	"bytes"
	"testing"
)

func TestGeneratedIsDeterministicAndChecked(t *testing.T) {
	p := Generate(3*Chunk+17, 42)
	b := p.Bytes()
	if len(b) != p.Size || !bytes.Equal(b, Generate(p.Size, 42).Bytes()) || bytes.Equal(b, Generate(p.Size, 43).Bytes()) {
		t.Fatal("a generated payload must depend on its seed and on nothing else")
	}
	if p.Digest() != Digest(string(b)) {
		t.Fatalf("Digest %s, of the bytes %s", p.Digest(), Digest(string(b)))
	}
	c := p.Check()
	for i := 0; i < len(b); i += 1000 { // pieces unlike the generator's
		_, _ = c.Write(b[i:min(i+1000, len(b))])
	}
	if at, _, _ := c.FirstDiff(); at != -1 || c.Size() != p.Size || c.Digest() != p.Digest() {
		t.Fatalf("the payload itself: first diff %d, size %d, %s", at, c.Size(), c.Digest())
	}
	b[Chunk+5] ^= 0x80
	c = p.Check()
	_, _ = c.Write(b)
	if at, got, want := c.FirstDiff(); at != Chunk+5 || got != want^0x80 {
		t.Fatalf("one flipped bit: first diff at %d (%#x, want %#x)", at, got, want)
	}
}
