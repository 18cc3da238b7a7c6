package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestTilePath(t *testing.T) {
	for _, c := range []struct {
		level string
		n     int64
		w     int
		want  string
	}{
		{"0", 0, 256, "tile/0/000"},
		{"0", 0, 1, "tile/0/000.p/1"},
		{"1", 999, 256, "tile/1/999"},
		{"1", 1000, 256, "tile/1/x001/000"},
		{"2", 1234067, 256, "tile/2/x001/x234/067"},
		{"entries", 1234067, 7, "tile/entries/x001/x234/067.p/7"},
		{"entries", 273, 112, "tile/entries/273.p/112"},
	} {
		if got := tilePath(c.level, c.n, c.w); got != c.want {
			t.Errorf("tilePath(%s, %d, %d) = %s, want %s", c.level, c.n, c.w, got, c.want)
		}
	}
	// Against x/mod's own path, less its height element.
	for _, n := range []int64{0, 5, 999, 1000, 1001, 123456789, 1 << 40} {
		for _, w := range []int{1, 100, 255, 256} {
			for l := -1; l < 3; l++ {
				xp := tlog.Tile{H: 8, L: l, N: n, W: w}.Path()
				xp = "tile/" + strings.Replace(strings.TrimPrefix(xp, "tile/8/"), "data/", "entries/", 1)
				ls := fmt.Sprint(l)
				if l == -1 {
					ls = "entries"
				}
				if got := tilePath(ls, n, w); got != xp {
					t.Errorf("tilePath(%s, %d, %d) = %s, x/mod %s", ls, n, w, got, xp)
				}
			}
		}
	}
}

func bundle(entries ...string) []byte {
	var b []byte
	for _, e := range entries {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b
}

func TestParseBundle(t *testing.T) {
	ok := bundle("a", "", "ccc")
	if es, err := parseBundle(ok, 3, "p"); err != nil || len(es) != 3 || string(es[2]) != "ccc" || len(es[1]) != 0 {
		t.Errorf("parseBundle(ok) = %q, %v", es, err)
	}
	for name, c := range map[string]struct {
		data []byte
		w    int
	}{
		"too few":        {ok, 4},
		"too many":       {ok, 2},
		"trailing byte":  {append(append([]byte{}, ok...), 0), 3},
		"truncated":      {ok[:len(ok)-1], 3},
		"empty, want 1":  {nil, 1},
		"length too big": {[]byte{0, 9, 'x'}, 1},
	} {
		if _, err := parseBundle(c.data, c.w, "p"); err == nil {
			t.Errorf("parseBundle(%s) succeeded", name)
		}
	}
}

func TestMTH(t *testing.T) {
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	var leaves []tlog.Hash
	for n := int64(0); n < 600; n++ {
		e := []byte(fmt.Sprintf("entry %d\n", n))
		hs, err := tlog.StoredHashes(n, e, r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		leaves = append(leaves, leafHash(e))
		want, _ := tlog.TreeHash(n+1, r)
		if got := mth(leaves); got != want {
			t.Fatalf("mth of %d leaves = %s, x/mod %s", n+1, got, want)
		}
	}
	if mth(nil) != tlog.Hash(sha256.Sum256(nil)) {
		t.Errorf("mth of no leaves is not SHA-256 of the empty string")
	}
}

const goodEntry = "signet/entry/v1\n" +
	"type sign\n" +
	"time 2026-12-07T01:42:50Z\n" +
	"subscriber 9b2f0c1e-1111-4a4a-8a8a-000000000001\n" +
	"audit-id 42\n" +
	"audit-sha256 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n" +
	"key 9b2f0c1e-2222-4a4a-8a8a-000000000002\n" +
	"spki-sha256 aa\n" +
	"digest-alg sha256\n" +
	"digest commit:bb\n" +
	"scheme pss\n" +
	"sig-sha256 cc\n" +
	"principal alice%20smith\n" +
	"detail %2D\n"

func TestParseEntry(t *testing.T) {
	v, err := parseEntry([]byte(goodEntry))
	if err != nil {
		t.Fatalf("parseEntry(good): %v", err)
	}
	if v[fType] != "sign" || v[fAuditID] != "42" || v[fKey] != "9b2f0c1e-2222-4a4a-8a8a-000000000002" || v[fSigSHA256] != "cc" {
		t.Errorf("parseEntry(good) = %q", v)
	}
	bad := map[string]string{
		"header":            strings.Replace(goodEntry, "signet/entry/v1", "signet/entry/v2", 1),
		"no final newline":  strings.TrimSuffix(goodEntry, "\n"),
		"order":             strings.Replace(strings.Replace(goodEntry, "scheme pss", "XX", 1), "digest-alg sha256", "scheme pss", 1),
		"missing field":     strings.Replace(goodEntry, "scheme pss\n", "", 1),
		"extra line":        goodEntry + "extra x\n",
		"empty value":       strings.Replace(goodEntry, "scheme pss", "scheme ", 1),
		"no value":          strings.Replace(goodEntry, "scheme pss", "scheme", 1),
		"space in value":    strings.Replace(goodEntry, "alice%20smith", "alice smith", 1),
		"lower-case escape": strings.Replace(goodEntry, "%2D", "%2d", 1),
		"short escape":      strings.Replace(goodEntry, "%2D", "%2", 1),
		"unknown type":      strings.Replace(goodEntry, "type sign", "type sing", 1),
		"audit in one line": strings.Replace(goodEntry, "audit-id 42\naudit-sha256 ", "audit 42 ", 1),
		"audit short hash":  strings.Replace(goodEntry, "abcdef\nkey", "abcd\nkey", 1),
		"audit-id missing":  strings.Replace(goodEntry, "audit-id 42\n", "", 1),
		"CRLF":              strings.Replace(goodEntry, "\n", "\r\n", -1),
	}
	for name, e := range bad {
		if _, err := parseEntry([]byte(e)); err == nil {
			t.Errorf("parseEntry(%s) succeeded", name)
		}
	}
}

func TestCheckpoint(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	vkey, err := note.NewEd25519VerifierKey("example.com/log", pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	// The key id as docs/translog.md has it, against Go's.
	kh := sha256.Sum256(append([]byte("example.com/log\n\x01"), pub...))
	if want := fmt.Sprintf("%08x", binary.BigEndian.Uint32(kh[:4])); !strings.Contains(vkey, "+"+want+"+") {
		t.Errorf("vkey %s: key id is not %s", vkey, want)
	}
	// A signed note written by hand, as the spec describes it.
	sign := func(text string) []byte {
		sig := ed25519.Sign(priv, []byte(text))
		return []byte(text + "\n\u2014 example.com/log " + base64.StdEncoding.EncodeToString(append(kh[:4:4], sig...)) + "\n")
	}
	root := base64.StdEncoding.EncodeToString(make([]byte, 32))
	c, err := openCheckpoint(sign("example.com/log\n7\n"+root+"\n"), v, "cp")
	if err != nil || c.size != 7 || c.origin != "example.com/log" {
		t.Fatalf("openCheckpoint(good) = %+v, %v", c, err)
	}
	if c, err := openCheckpoint(sign("example.com/log\n7\n"+root+"\next one\n"), v, "cp"); err != nil || len(c.ext) != 1 {
		t.Errorf("openCheckpoint(extension) = %+v, %v", c, err)
	}
	empty := base64.StdEncoding.EncodeToString(func() []byte { h := sha256.Sum256(nil); return h[:] }())
	if _, err := openCheckpoint(sign("example.com/log\n0\n"+empty+"\n"), v, "cp"); err != nil {
		t.Errorf("openCheckpoint(empty tree): %v", err)
	}
	for name, raw := range map[string][]byte{
		"leading zero":     sign("example.com/log\n07\n" + root + "\n"),
		"negative":         sign("example.com/log\n-7\n" + root + "\n"),
		"short root":       sign("example.com/log\n7\n" + root[:40] + "\n"),
		"other origin":     sign("example.org/log\n7\n" + root + "\n"),
		"two lines":        sign("example.com/log\n7\n"),
		"empty ext":        sign("example.com/log\n7\n" + root + "\n\n"),
		"zero root size 0": sign("example.com/log\n0\n" + root + "\n"),
		"altered":          []byte(strings.Replace(string(sign("example.com/log\n7\n"+root+"\n")), "\n7\n", "\n8\n", 1)),
		"unsigned":         []byte("example.com/log\n7\n" + root + "\n"),
	} {
		if _, err := openCheckpoint(raw, v, "cp"); err == nil {
			t.Errorf("openCheckpoint(%s) succeeded", name)
		} else if _, ok := err.(*failure); !ok {
			t.Errorf("openCheckpoint(%s): %v is not a failure", name, err)
		}
	}
}

// memTiles is a tlog.TileReader over tiles built in memory.
type memTiles map[tlog.Tile][]byte

func (m memTiles) Height() int { return tileHeight }
func (m memTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		d, ok := m[t]
		if !ok {
			return nil, failf("no tile %v", t)
		}
		out[i] = d
	}
	return out, nil
}
func (m memTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// TestFullTileGap: in a tree of 300, the right-edge hashes are four, in
// two tiles; x/mod's TileHashReader then leaves the full level-0 tile 0
// unchecked against its parent. authReader must catch a flipped hash in it.
func TestFullTileGap(t *testing.T) {
	const n = 300
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i := int64(0); i < n; i++ {
		hs, err := tlog.StoredHashes(i, []byte(fmt.Sprintf("entry %d\n", i)), r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	root, _ := tlog.TreeHash(n, r)
	m := memTiles{}
	for _, tl := range []tlog.Tile{{H: 8, L: 0, N: 0, W: 256}, {H: 8, L: 0, N: 1, W: 44}, {H: 8, L: 1, N: 0, W: 1}} {
		d, err := tlog.ReadTileData(tl, r)
		if err != nil {
			t.Fatal(err)
		}
		m[tl] = d
	}
	m[tlog.Tile{H: 8, L: 0, N: 0, W: 256}][17*32+3] ^= 1
	thr := tlog.TileHashReader(tlog.Tree{N: n, Hash: root}, m)
	leaf17 := tlog.StoredHashIndex(0, 17)
	if _, err := thr.ReadHashes([]int64{leaf17}); err == nil {
		t.Logf("x/mod's TileHashReader returned a hash from a tampered full tile without error (the gap authReader covers)")
	} else {
		t.Logf("x/mod's TileHashReader caught the tampered tile itself: %v", err)
	}
	a := newAuthReader(thr, n)
	if _, err := a.ReadHashes([]int64{leaf17}); err == nil {
		t.Fatalf("authReader returned a hash from a tampered full tile")
	} else if _, ok := err.(*failure); !ok {
		t.Fatalf("authReader: %v is not a failure", err)
	} else {
		t.Logf("authReader: %v", err)
	}
	// Untampered, every leaf comes back right.
	m[tlog.Tile{H: 8, L: 0, N: 0, W: 256}][17*32+3] ^= 1
	a = newAuthReader(thr, n)
	for i := int64(0); i < n; i++ {
		h, err := a.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
		if err != nil || h[0] != stored[tlog.StoredHashIndex(0, i)] {
			t.Fatalf("leaf %d: %v, %v", i, h, err)
		}
	}
}
