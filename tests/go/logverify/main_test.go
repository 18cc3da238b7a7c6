package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
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

func TestEscapeValue(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "-"},
		{"-", "%2D"},
		{"--", "--"},
		{"a-b", "a-b"},
		{" ", "%20"},
		{"%", "%25"},
		{"100%", "100%25"},
		{"caf\xc3\xa9", "caf%C3%A9"},
		{"\x00\t\n\r\x1f\x7f\xff", "%00%09%0A%0D%1F%7F%FF"},
		{"!~\"#&'(){}[]<>=,;:/?@\\^`|", "!~\"#&'(){}[]<>=,;:/?@\\^`|"},
	} {
		if got := escapeValue(c.in); got != c.want {
			t.Errorf("escapeValue(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func auditRecordFromJSON(t *testing.T, j string) (*auditRecord, error) {
	t.Helper()
	o, err := decodeObject([]byte(j))
	if err != nil {
		t.Fatalf("decodeObject(%s): %v", j, err)
	}
	return parseAuditRecord(o)
}

// TestAuditText: the canonical text of a record (docs/translog.md, "The
// audit record's hash"), the bytes written out: an id beyond 2^53, an empty
// value (key), a value "-" (token), an absent and a null optional member
// (digest-salt, principal), a space, a '%', a non-ASCII character (é, from
// a \u escape: its two UTF-8 bytes) and a tab in the detail; members the
// hash does not cover (log_index, extra) are ignored. The SHA-256 was
// computed apart from Go (python3 hashlib) over the same bytes.
func TestAuditText(t *testing.T) {
	r, err := auditRecordFromJSON(t, `{"id": 9007199254740993, "time": "2026-12-07T01:51:23Z",
		"subscriber": "9b2f0c1e-1111-4a4a-8a8a-000000000001", "key": "", "token": "-",
		"client": "2001:db8::1", "action": "denied", "digest_algorithm": "sha256", "digest": "ab",
		"scheme": "", "result": "denied", "detail": "rate 100% exceeded: caf\u00e9\t(x2)",
		"policy": "deny key max", "principal": null, "sig_sha256": "--", "log_index": 12,
		"extra": [1, {"x": 2}]}`)
	if err != nil {
		t.Fatal(err)
	}
	const want = "signet/audit/v1\n" +
		"id 9007199254740993\n" +
		"time 2026-12-07T01:51:23Z\n" +
		"subscriber 9b2f0c1e-1111-4a4a-8a8a-000000000001\n" +
		"key -\n" +
		"token %2D\n" +
		"client 2001:db8::1\n" +
		"action denied\n" +
		"digest-alg sha256\n" +
		"digest ab\n" +
		"scheme -\n" +
		"result denied\n" +
		"detail rate%20100%25%20exceeded:%20caf%C3%A9%09(x2)\n" +
		"policy deny%20key%20max\n" +
		"principal -\n" +
		"sig-sha256 --\n" +
		"digest-salt -\n"
	if got := string(r.text()); got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
	if got, want := r.hash(), "dc91394291a8dafa6becbdcaf6ebaba6a9e055d290875a6e88fc9a7028313fd9"; got != want {
		t.Errorf("hash %s, want %s", got, want)
	}
	if r.id != 9007199254740993 || r.logIndex != 12 {
		t.Errorf("id %d, log_index %d", r.id, r.logIndex)
	}
	// Without log_index (or null): before the log.
	r, err = auditRecordFromJSON(t, `{"id": 1, "time": "t", "subscriber": "s", "key": "", "token": "",
		"client": "", "action": "", "digest_algorithm": "", "digest": "", "scheme": "", "result": "",
		"detail": "", "log_index": null}`)
	if err != nil || r.logIndex != -1 {
		t.Errorf("record without log_index: %+v, %v", r, err)
	}
}

func TestAuditRecordMalformed(t *testing.T) {
	const good = `"time": "t", "subscriber": "s", "key": "", "token": "", "client": "", "action": "",
		"digest_algorithm": "", "digest": "", "scheme": "", "result": "", "detail": ""`
	for name, j := range map[string]string{
		"id a string":        `{"id": "12", ` + good + `}`,
		"id a float":         `{"id": 12.0, ` + good + `}`,
		"id with exponent":   `{"id": 1e3, ` + good + `}`,
		"id negative":        `{"id": -1, ` + good + `}`,
		"id beyond 2^64":     `{"id": 18446744073709551616, ` + good + `}`,
		"no id":              `{` + good + `}`,
		"detail missing":     `{"id": 1, ` + strings.Replace(good, `, "detail": ""`, "", 1) + `}`,
		"detail null":        `{"id": 1, ` + strings.Replace(good, `"detail": ""`, `"detail": null`, 1) + `}`,
		"detail a number":    `{"id": 1, ` + strings.Replace(good, `"detail": ""`, `"detail": 5`, 1) + `}`,
		"policy a number":    `{"id": 1, "policy": 1, ` + good + `}`,
		"log_index a string": `{"id": 1, "log_index": "3", ` + good + `}`,
		"log_index negative": `{"id": 1, "log_index": -3, ` + good + `}`,
		"log_index 2^63":     `{"id": 1, "log_index": 9223372036854775808, ` + good + `}`,
	} {
		if r, err := auditRecordFromJSON(t, j); err == nil {
			t.Errorf("%s: parsed as %+v", name, r)
		}
	}
	if r, err := auditRecordFromJSON(t, `{"id": 18446744073709551615, "log_index": 9223372036854775807, `+good+`}`); err != nil || r.id != math.MaxUint64 || r.logIndex != math.MaxInt64 {
		t.Errorf("largest id and log_index: %+v, %v", r, err)
	}
	for name, j := range map[string]string{
		"array":         `[]`,
		"null":          `null`,
		"two objects":   `{} {}`,
		"trailing junk": `{} x`,
		"not UTF-8":     "{\"a\": \"\xff\"}",
	} {
		if _, err := decodeObject([]byte(j)); err == nil {
			t.Errorf("decodeObject(%s) succeeded", name)
		}
	}
}

// TestJudgeAudit: the latest entry for an id counts; the record must name
// it; records without log_index are before the log unless an entry names
// them; every entry's record must be listed.
func TestJudgeAudit(t *testing.T) {
	rec := func(id uint64, detail string, logIndex int64) *auditRecord {
		v := make([]string, len(auditLines))
		v[aSubscriber] = "sub"
		v[10] = detail
		return &auditRecord{id: id, values: v, logIndex: logIndex}
	}
	cp := &checkpoint{size: 100}
	a1, a2, old, b := rec(1, "x", 7), rec(2, "y (x2)", 9), rec(2, "y", 9), rec(0, "", -1)
	good := map[uint64]logged{1: {7, a1.hash()}, 2: {9, a2.hash()}}
	for name, c := range map[string]struct {
		recs []*auditRecord
		mine map[uint64]logged
		want string // "" ok, else the failure's start
	}{
		"ok":                {[]*auditRecord{b, a1, a2}, good, ""},
		"stale record":      {[]*auditRecord{a1, old}, good, "audit record 2 differs from what log entry 9 committed to"},
		"no entry":          {[]*auditRecord{a1, a2, rec(3, "", 12)}, good, "audit record 3 has no log entry"},
		"beyond checkpoint": {[]*auditRecord{a1, a2, rec(3, "", 100)}, good, "audit record 3 has no log entry (it names log entry 100"},
		"not listed":        {[]*auditRecord{a2}, good, "log entry 7 commits to audit record 1, which the audit API does not list"},
		"wrong log_index":   {[]*auditRecord{a1, rec(2, "y (x2)", 8)}, good, "audit record 2 names log entry 8, its latest log entry is 9"},
		"no log_index":      {[]*auditRecord{a1, rec(2, "y (x2)", -1)}, good, "audit record 2 has no log_index"},
		"other subscriber":  {[]*auditRecord{{id: 1, values: make([]string, len(auditLines)), logIndex: 7}}, good, `audit record 1 is of subscriber "", not "sub"`},
	} {
		err := judgeAudit(c.recs, c.mine, "sub", cp)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && err == nil:
			t.Errorf("%s: no failure", name)
		case c.want != "" && !strings.HasPrefix(err.Error(), c.want):
			t.Errorf("%s: %v, want %s...", name, err, c.want)
		case c.want != "":
			if _, ok := err.(*failure); !ok {
				t.Errorf("%s: %v is not a failure", name, err)
			}
		}
	}
}

// TestAuditPaging: the walk through GET /v1/audit against a server in
// the test: pages by next_after to an empty page, ids beyond 2^53 exact;
// answers out of order, a wrong next_after, a refusal: exit 2 (netError).
func TestAuditPaging(t *testing.T) {
	const base = uint64(9007199254740993)
	rec := func(id uint64) string {
		return fmt.Sprintf(`{"id": %d, "time": "t", "subscriber": "s", "key": "", "token": "", "client": "",
			"action": "", "digest_algorithm": "", "digest": "", "scheme": "", "result": "", "detail": "", "log_index": %d}`, id, id-base)
	}
	var scenario string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || scenario == "401" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error": "unauthorized", "message": "no"}`)
			return
		}
		if r.URL.Path != "/v1/audit" || r.URL.Query().Get("limit") != "1000" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		after, err := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var ids []uint64 // pages of two: base, base+1 | base+2, base+3 | base+4
		for id := base; id < base+5; id++ {
			if id > after && len(ids) < 2 {
				ids = append(ids, id)
			}
		}
		switch {
		case scenario == "repeat" && after == base+1:
			ids = []uint64{base + 1, base + 2}
		case scenario == "notarray":
			fmt.Fprint(w, `{"records": {}, "next_after": 0}`)
			return
		case scenario == "500":
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var rs []string
		for _, id := range ids {
			rs = append(rs, rec(id))
		}
		next := after
		if len(ids) > 0 {
			next = ids[len(ids)-1]
		}
		if scenario == "badnext" && len(ids) > 0 {
			next++
		}
		fmt.Fprintf(w, `{"records": [%s], "next_after": %d}`, strings.Join(rs, ","), next)
	}))
	defer srv.Close()
	f, err := newFetcher(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	a := &apiClient{f: f, token: "tok"}
	recs, err := a.records()
	if err != nil || len(recs) != 5 {
		t.Fatalf("records() = %d records, %v", len(recs), err)
	}
	for i, r := range recs {
		if r.id != base+uint64(i) || r.logIndex != int64(i) {
			t.Errorf("record %d: id %d, log_index %d", i, r.id, r.logIndex)
		}
	}
	for _, c := range []struct{ scenario, want string }{
		{"repeat", "the ids must increase"},
		{"badnext", `"next_after" is the number 9007199254740995, not the last record's id 9007199254740994`},
		{"notarray", `"records" is an object, not an array`},
		{"401", "401 Unauthorized: the API refused the token"},
		{"500", "500 Internal Server Error"},
	} {
		scenario = c.scenario
		_, err := a.records()
		if _, ok := err.(*netError); !ok || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a netError with %q", c.scenario, err, c.want)
		}
	}
}
