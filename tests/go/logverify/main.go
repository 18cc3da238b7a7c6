// Command logverify is an independent verifier of Signet's transparency
// log, as docs/translog.md specifies it: C2SP tlog-tiles (hash tiles of
// height 8, entry bundles) served over HTTP(S), C2SP signed-note
// checkpoints signed with Ed25519, RFC 9162 inclusion proofs.
//
// It shares no code with the C implementation, on purpose: it is the
// check of it. The Merkle arithmetic, tile authentication and proofs come
// from golang.org/x/mod/sumdb/tlog, the signature check from
// golang.org/x/mod/sumdb/note; the checkpoint body, the C2SP tile paths,
// the entry bundles and the entry text are parsed here from the spec.
//
//	logverify tree -vkey VKEY -url BASE [-ca FILE] [-state FILE] [-entries all|N]
//	    The checkpoint's signature (key name and key id as in Go's note
//	    format) and body (origin = key name, size, root); the hash tiles on
//	    the right edge of the tree against the root; with -state, the
//	    earlier checkpoint's signature and a consistency proof from it to
//	    this one (the state file then holds this one); then every entry
//	    (-entries all) or N of them (first, last, the rest at random): each
//	    bundle fetched holds exactly its count of entries, every entry in it
//	    hashes to its leaf in the (authenticated) level-0 hash tile, the
//	    chosen ones have an inclusion proof to the root (tlog.ProveRecord and
//	    CheckRecord), and with "all" the root is recomputed from the entries
//	    alone (RFC 6962 MTH, own code).
//	logverify proof -vkey VKEY -proof FILE -entry FILE
//	    An inclusion proof as /log/proof/<index> serves it, against the
//	    signed checkpoint it carries and the entry's bytes.
//	logverify entries -vkey VKEY -url BASE [-ca FILE] [-key UUID]
//	    Every entry (or those of key UUID), one line each:
//	    <index> <type> <time> <key> <sig-sha256> <audit id>; the entries
//	    must hash to the checkpoint's root and parse strictly as
//	    signet/entry/v1 (header, all thirteen fields in order, escaping).
//	logverify audit -vkey VKEY -url BASE -api API_BASE -token-file FILE [-ca FILE] [-subscriber ID]
//	    What tree -entries all checks, every entry parsed as entries does;
//	    then the subscriber's audit records (API_BASE/v1/audit, paged with
//	    after=, the bearer token in FILE; the subscriber is -subscriber or
//	    API_BASE/v1/whoami's; one record is asked for before the log is
//	    read, to fail early) against the log: each record with a log_index
//	    hashes (docs/translog.md, "The audit record's hash") to the
//	    audit-sha256 of the latest entry of that subscriber naming its id,
//	    and that entry is the one its log_index names; each audit id the
//	    subscriber's entries name is listed. A record without log_index
//	    predates the log (before_log), unless an entry names it. When a
//	    record names an entry beyond the checkpoint (the log moved on while
//	    the records were read), a newer checkpoint is awaited and the whole
//	    check run again (three runs at most).
//
// VKEY is the verifier key (<name>+<hex key id>+<base64(0x01||key)>) or
// @FILE naming a file that holds it.
//
// Exit status: 0 every check passed ("ok ..." lines on stdout); 1 a check
// failed ("FAIL: <reason>" on stdout; a missing or wrong-size tile or
// bundle and a malformed checkpoint are failures); 2 usage, local I/O or
// network error ("logverify: ..." on stderr). For audit, an answer of the
// API other than 200 (401 and 403: the token refused) or not as
// docs/api.md has it (JSON, records in increasing id order) is exit 2.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	mrand "math/rand"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	tileHeight = 8
	tileWidth  = 1 << tileHeight
	maxEntry   = 65535
	entryMagic = "signet/entry/v1"
)

// A failure is a failed check: exit 1. Any other error exits 2.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func failf(format string, a ...interface{}) error {
	return &failure{fmt.Sprintf(format, a...)}
}

// asFailure turns an error from x/mod (a proof or tile that does not
// verify) into a failure, leaving our own network errors as they are.
func asFailure(err error, format string, a ...interface{}) error {
	var f *failure
	if errors.As(err, &f) {
		return failf("%s: %s", fmt.Sprintf(format, a...), f.msg)
	}
	var n *netError
	if errors.As(err, &n) {
		return err
	}
	return failf("%s: %v", fmt.Sprintf(format, a...), err)
}

// A netError is a transport or local error: exit 2.
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "tree":
		err = cmdTree(os.Args[2:])
	case "proof":
		err = cmdProof(os.Args[2:])
	case "entries":
		err = cmdEntries(os.Args[2:])
	case "audit":
		err = cmdAudit(os.Args[2:])
	default:
		usage()
	}
	if err == nil {
		os.Exit(0)
	}
	var f *failure
	if errors.As(err, &f) {
		fmt.Printf("FAIL: %s\n", f.msg)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "logverify: %v\n", err)
	os.Exit(2)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  logverify tree -vkey VKEY -url BASE [-ca FILE] [-state FILE] [-entries all|N]
  logverify proof -vkey VKEY -proof FILE -entry FILE
  logverify entries -vkey VKEY -url BASE [-ca FILE] [-key UUID]
  logverify audit -vkey VKEY -url BASE -api API_BASE -token-file FILE [-ca FILE] [-subscriber ID]
`)
	os.Exit(2)
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return &usageError{fs.Name() + ": " + err.Error()}
	}
	if fs.NArg() != 0 {
		return &usageError{fs.Name() + ": unexpected argument " + fs.Arg(0)}
	}
	return nil
}

func loadVerifier(vkey string) (note.Verifier, error) {
	if vkey == "" {
		return nil, &usageError{"-vkey is required"}
	}
	if strings.HasPrefix(vkey, "@") {
		b, err := os.ReadFile(vkey[1:])
		if err != nil {
			return nil, &netError{err}
		}
		vkey = strings.TrimSpace(string(b))
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("verifier key %q: %v", vkey, err)}
	}
	return v, nil
}

// ---- checkpoints ----

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
	ext    []string // extension lines after the root, if any
	raw    []byte
}

var emptyRoot = tlog.Hash(sha256.Sum256(nil))

// decodeHash is strict: 44 characters of padded standard base64.
func decodeHash(s string) (tlog.Hash, bool) {
	var h tlog.Hash
	if len(s) != 44 {
		return h, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// openCheckpoint verifies the signed note (signature by v, key name and
// key id as Go's note package has them) and parses its body by hand:
// <origin>\n<size>\n<base64 root>\n[extension lines\n...].
func openCheckpoint(raw []byte, v note.Verifier, what string) (*checkpoint, error) {
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		var unv *note.UnverifiedNoteError
		var bad *note.InvalidSignatureError
		switch {
		case errors.As(err, &unv):
			var who []string
			for _, s := range unv.Note.UnverifiedSigs {
				who = append(who, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
			}
			return nil, failf("%s: not signed by %s+%08x (signed by: %s)", what, v.Name(), v.KeyHash(), strings.Join(who, ", "))
		case errors.As(err, &bad):
			return nil, failf("%s: invalid signature by %s+%08x", what, bad.Name, bad.Hash)
		default:
			return nil, failf("%s: malformed signed note: %v", what, err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, failf("%s: %d body lines, want at least 3 (origin, size, root)", what, len(lines))
	}
	c := &checkpoint{origin: lines[0], ext: lines[3:], raw: raw}
	if c.origin != v.Name() {
		return nil, failf("%s: origin %q is not the key's name %q", what, c.origin, v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return nil, failf("%s: malformed tree size %q", what, lines[1])
	}
	c.size = size
	root, ok := decodeHash(lines[2])
	if !ok {
		return nil, failf("%s: malformed root hash %q", what, lines[2])
	}
	c.root = root
	for _, e := range c.ext {
		if e == "" {
			return nil, failf("%s: empty extension line", what)
		}
	}
	if size == 0 && root != emptyRoot {
		return nil, failf("%s: empty tree with root %s, want SHA-256 of the empty string (RFC 9162)", what, root)
	}
	return c, nil
}

// ---- HTTP ----

type fetcher struct {
	base   string
	client *http.Client
	gets   int
}

func newFetcher(base, caFile string) (*fetcher, error) {
	if base == "" {
		return nil, &usageError{"-url is required"}
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, &usageError{"-url must be http:// or https://"}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, &netError{err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &usageError{caFile + ": no PEM certificate"}
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &fetcher{
		base:   strings.TrimRight(base, "/"),
		client: &http.Client{Transport: tr, Timeout: 60 * time.Second},
	}, nil
}

// get fetches BASE/path. 404 (and 410) are failures: the log must serve
// what its checkpoint covers. Other statuses and transport errors are not.
func (f *fetcher) get(path string, max int64) ([]byte, error) {
	f.gets++
	url := f.base + "/" + path
	resp, err := f.client.Get(url)
	if err != nil {
		return nil, &netError{err}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, failf("GET %s: %s", path, resp.Status)
	default:
		return nil, &netError{fmt.Errorf("GET %s: %s", url, resp.Status)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, &netError{fmt.Errorf("GET %s: %v", url, err)}
	}
	if int64(len(body)) > max {
		return nil, failf("GET %s: more than %d bytes", path, max)
	}
	return body, nil
}

// tilePath is the C2SP tlog-tiles path of a tile: tile/<L>/<N>[.p/<W>],
// level "entries" for entry bundles; N in groups of three digits, all
// but the last prefixed "x". (x/mod's Tile.Path differs: tile/<H>/<L>/...,
// "data" for the entries.)
func tilePath(level string, n int64, w int) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	p := "tile/" + level + "/" + s
	if w != tileWidth {
		p += fmt.Sprintf(".p/%d", w)
	}
	return p
}

// tileReader is a tlog.TileReader over HTTP. It keeps what it fetched (the
// tlog.TileHashReader authenticates tiles against the root on every use,
// so keeping unauthenticated bytes is harmless).
type tileReader struct {
	f     *fetcher
	cache map[tlog.Tile][]byte
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if d, ok := r.cache[t]; ok {
			out[i] = d
			continue
		}
		if t.H != tileHeight || t.L < 0 || t.W < 1 || t.W > tileWidth {
			return nil, fmt.Errorf("internal error: tile %+v requested", t)
		}
		path := tilePath(strconv.Itoa(t.L), t.N, t.W)
		want := t.W * tlog.HashSize
		d, err := r.f.get(path, int64(want))
		if err != nil {
			return nil, err
		}
		if len(d) != want {
			return nil, failf("hash tile %s: %d bytes, want %d", path, len(d), want)
		}
		r.cache[t] = d
		out[i] = d
	}
	return out, nil
}

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// forgetLevel0 drops the level-0 tiles: each is needed for one bundle only.
func (r *tileReader) forgetLevel0() {
	for t := range r.cache {
		if t.L == 0 {
			delete(r.cache, t)
		}
	}
}

func fetchCheckpoint(f *fetcher, v note.Verifier) (*checkpoint, error) {
	raw, err := f.get("checkpoint", 1<<16)
	if err != nil {
		return nil, err
	}
	return openCheckpoint(raw, v, "checkpoint")
}

// ---- entry bundles ----

// parseBundle splits a bundle of exactly w entries (big-endian uint16
// length, then the entry) with nothing after the last.
func parseBundle(data []byte, w int, path string) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, failf("entry bundle %s: trailing byte after %d entries", path, len(out))
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data)-2 < n {
			return nil, failf("entry bundle %s: entry %d: length %d, only %d bytes left", path, len(out), n, len(data)-2)
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
		if len(out) == w && len(data) > 0 {
			return nil, failf("entry bundle %s: %d trailing bytes after its %d entries", path, len(data), w)
		}
	}
	if len(out) != w {
		return nil, failf("entry bundle %s: %d entries, want %d", path, len(out), w)
	}
	return out, nil
}

func bundleWidth(size, n int64) int {
	if rest := size - n*tileWidth; rest < tileWidth {
		return int(rest)
	}
	return tileWidth
}

func fetchBundle(f *fetcher, size, n int64) ([][]byte, error) {
	w := bundleWidth(size, n)
	path := tilePath("entries", n, w)
	data, err := f.get(path, int64(w)*(2+maxEntry))
	if err != nil {
		return nil, err
	}
	return parseBundle(data, w, path)
}

// leafHash and mth are RFC 6962 written out here, not x/mod's.
func leafHash(e []byte) tlog.Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(e)
	var out tlog.Hash
	h.Sum(out[:0])
	return out
}

func mth(leaves []tlog.Hash) tlog.Hash {
	switch len(leaves) {
	case 0:
		return emptyRoot
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := mth(leaves[:k]), mth(leaves[k:])
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l[:])
	h.Write(r[:])
	var out tlog.Hash
	h.Sum(out[:0])
	return out
}

// ---- tree ----

func cmdTree(args []string) error {
	fs := flag.NewFlagSet("tree", flag.ContinueOnError)
	vkey := fs.String("vkey", "", "verifier key or @FILE")
	base := fs.String("url", "", "base URL of the log (BASE/checkpoint, BASE/tile/...)")
	ca := fs.String("ca", "", "CA certificate file (PEM) for https")
	state := fs.String("state", "", "file keeping the last verified checkpoint")
	entries := fs.String("entries", "all", "all, or the number of entries to sample")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v, err := loadVerifier(*vkey)
	if err != nil {
		return err
	}
	sample := int64(-1)
	if *entries != "all" {
		n, err := strconv.ParseInt(*entries, 10, 64)
		if err != nil || n < 0 {
			return &usageError{"-entries: want all or a count, not " + *entries}
		}
		sample = n
	}
	f, err := newFetcher(*base, *ca)
	if err != nil {
		return err
	}

	cp, tr, ar, err := openTree(f, v)
	if err != nil {
		return err
	}

	if *state != "" {
		old, err := os.ReadFile(*state)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return &netError{err}
		case len(old) > 0:
			oc, err := openCheckpoint(old, v, "checkpoint in "+*state)
			if err != nil {
				return err
			}
			if err := consistent(oc, cp, ar); err != nil {
				return err
			}
			fmt.Printf("ok consistent old=%d new=%d\n", oc.size, cp.size)
		}
		if err := writeState(*state, cp.raw); err != nil {
			return err
		}
	}

	if cp.size == 0 {
		fmt.Printf("ok entries checked=0\n")
		return nil
	}
	checked, err := checkEntries(f, tr, ar, cp, sample, nil)
	if err != nil {
		return err
	}
	fmt.Printf("ok entries checked=%d\n", checked)
	return nil
}

// openTree fetches the checkpoint, verifies it and the hash tiles on the
// right edge of its tree against its root, and prints the "ok checkpoint"
// line. The readers it returns serve the tree's tiles, authenticated.
func openTree(f *fetcher, v note.Verifier) (*checkpoint, *tileReader, *authReader, error) {
	cp, err := fetchCheckpoint(f, v)
	if err != nil {
		return nil, nil, nil, err
	}
	tr := &tileReader{f: f, cache: map[tlog.Tile][]byte{}}
	thr := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, tr)
	ar := newAuthReader(thr, cp.size)
	if cp.size > 0 {
		// The tiles on the right edge of the tree, against the root.
		h, err := tlog.TreeHash(cp.size, thr)
		if err != nil {
			return nil, nil, nil, asFailure(err, "hash tiles of the tree of size %d", cp.size)
		}
		if h != cp.root {
			return nil, nil, nil, failf("hash tiles give root %s, checkpoint has %s", h, cp.root)
		}
	}
	fmt.Printf("ok checkpoint size=%d root=%s\n", cp.size, cp.root)
	return cp, tr, ar, nil
}

func consistent(old, cp *checkpoint, ar *authReader) error {
	switch {
	case old.size > cp.size:
		return failf("log shrank: earlier checkpoint has size %d, this one %d", old.size, cp.size)
	case old.size == cp.size:
		if old.root != cp.root {
			return failf("fork: two checkpoints of size %d with roots %s and %s", cp.size, old.root, cp.root)
		}
		return nil
	case old.size == 0:
		return nil
	}
	p, err := tlog.ProveTree(cp.size, old.size, ar)
	if err != nil {
		return asFailure(err, "consistency proof from size %d to %d", old.size, cp.size)
	}
	if err := tlog.CheckTree(p, cp.size, cp.root, old.size, old.root); err != nil {
		return failf("not consistent: tree of size %d (root %s) is not a prefix of the tree of size %d (root %s): %v", old.size, old.root, cp.size, cp.root, err)
	}
	return nil
}

func writeState(path string, raw []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".logverify-state-*")
	if err != nil {
		return &netError{err}
	}
	_, err = tmp.Write(raw)
	if err2 := tmp.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return &netError{err}
	}
	return nil
}

// pick chooses the entries to prove: all (nil) or n of them, the first and
// the last among them.
func pick(size, n int64) (map[int64]bool, error) {
	if n < 0 || n >= size {
		return nil, nil
	}
	seed, err := rand.Int(rand.Reader, big.NewInt(math.MaxInt64))
	if err != nil {
		return nil, &netError{err}
	}
	rng := mrand.New(mrand.NewSource(seed.Int64()))
	sel := map[int64]bool{}
	if n >= 1 {
		sel[0] = true
	}
	if n >= 2 {
		sel[size-1] = true
	}
	for int64(len(sel)) < n {
		sel[rng.Int63n(size)] = true
	}
	return sel, nil
}

// authReader serves hashes out of whole tiles, each authenticated against
// the root, and keeps them: an inclusion proof for each entry then costs
// map lookups, not one tile authentication per entry (which made 70,000
// entries take half a minute).
//
// Tiles are read through x/mod's TileHashReader, which authenticates the
// tiles on the right edge of the tree (partial ones included) by
// recomputing the root from them. It does not reliably check the full
// tiles below against their parents: its loop for that starts at
// len(stx), the number of right-edge hashes, not of the tiles holding
// them, so when two of those hashes share a tile the first full tiles
// after them go unchecked (x/mod 0.7.0, and golang/mod at fe2ec04, 2026).
// Proofs checked against the root would still fail on a bad hash, but a
// bad tile would be reported as a failed proof or a fork, and entries
// compared with an unchecked tile would not be verified at all; so every
// full tile is checked here against the hash its parent tile holds.
type authReader struct {
	thr    tlog.HashReader
	size   int64
	tiles  map[tlog.Tile][]byte
	hashes map[int64]tlog.Hash
}

func newAuthReader(thr tlog.HashReader, size int64) *authReader {
	a := &authReader{thr: thr, size: size}
	a.reset()
	return a
}

// tile is the tree's tile at level l, number n (full, or as wide as the
// tree has it), its hashes authenticated.
func (a *authReader) tile(l int, n int64) (tlog.Tile, []byte, error) {
	w := (a.size >> uint(tileHeight*l)) - n*tileWidth
	if w > tileWidth {
		w = tileWidth
	}
	t := tlog.Tile{H: tileHeight, L: l, N: n, W: int(w)}
	if w < 1 {
		return t, nil, fmt.Errorf("internal error: tile %d/%d outside the tree of size %d", l, n, a.size)
	}
	if d, ok := a.tiles[t]; ok {
		return t, d, nil
	}
	d, err := tlog.ReadTileData(t, a.thr)
	if err != nil {
		return t, nil, asFailure(err, "reading hash tile %s", tilePath(strconv.Itoa(l), n, t.W))
	}
	if t.W == tileWidth {
		ph, err := a.ReadHashes([]int64{tlog.StoredHashIndex(tileHeight*(l+1), n)})
		if err != nil {
			return t, nil, err
		}
		hs := make([]tlog.Hash, tileWidth)
		for i := range hs {
			copy(hs[i][:], d[i*tlog.HashSize:])
		}
		if mth(hs) != ph[0] {
			pn := n / tileWidth
			pw := (a.size >> uint(tileHeight*(l+1))) - pn*tileWidth
			if pw > tileWidth {
				pw = tileWidth
			}
			return t, nil, failf("hash tile %s does not hash to its parent's hash %s in %s", tilePath(strconv.Itoa(l), n, t.W), ph[0], tilePath(strconv.Itoa(l+1), pn, int(pw)))
		}
	}
	a.tiles[t] = d
	return t, d, nil
}

func (a *authReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if h, ok := a.hashes[x]; ok {
			out[i] = h
			continue
		}
		least := tlog.TileForIndex(tileHeight, x)
		t, data, err := a.tile(least.L, least.N)
		if err != nil {
			return nil, err
		}
		h, err := tlog.HashFromTile(t, data, x)
		if err != nil {
			return nil, err
		}
		a.hashes[x] = h
		out[i] = h
	}
	return out, nil
}

func (a *authReader) reset() {
	a.tiles = map[tlog.Tile][]byte{}
	a.hashes = map[int64]tlog.Hash{}
}

// checkEntries checks the entries (all, sample < 0, or that many) against
// the tree. visit, if not nil, is called with each entry of every bundle
// read, in index order, once the entry is known to be its leaf in the
// authenticated level-0 tile (with all, the root is recomputed after the
// last call: an error then still voids what visit saw).
func checkEntries(f *fetcher, tr *tileReader, ar *authReader, cp *checkpoint, sample int64, visit func(int64, []byte) error) (int, error) {
	sel, err := pick(cp.size, sample)
	if err != nil {
		return 0, err
	}
	var bundles []int64
	if sel == nil {
		for n := int64(0); n*tileWidth < cp.size; n++ {
			bundles = append(bundles, n)
		}
	} else {
		seen := map[int64]bool{}
		for i := range sel {
			if !seen[i/tileWidth] {
				seen[i/tileWidth] = true
				bundles = append(bundles, i/tileWidth)
			}
		}
		sort.Slice(bundles, func(a, b int) bool { return bundles[a] < bundles[b] })
	}
	var all []tlog.Hash
	checked := 0
	for _, n := range bundles {
		ar.reset()
		tr.forgetLevel0()
		es, err := fetchBundle(f, cp.size, n)
		if err != nil {
			return checked, err
		}
		// Every entry of the bundle against its leaf in the level-0 tile,
		// authenticated up to the root.
		_, leaves, err := ar.tile(0, n)
		if err != nil {
			return checked, err
		}
		for j, e := range es {
			idx := n*tileWidth + int64(j)
			rh := tlog.RecordHash(e)
			if lh := leafHash(e); lh != rh {
				return checked, fmt.Errorf("internal error: leaf hash of entry %d: %s (x/mod) vs %s", idx, rh, lh)
			}
			if !bytes.Equal(rh[:], leaves[j*tlog.HashSize:(j+1)*tlog.HashSize]) {
				return checked, failf("entry %d (bundle %s): its hash %s is not the leaf hash in %s", idx, tilePath("entries", n, len(es)), rh, tilePath("0", n, len(es)))
			}
			if visit != nil {
				if err := visit(idx, e); err != nil {
					return checked, err
				}
			}
			if sel == nil {
				all = append(all, rh)
			} else if !sel[idx] {
				continue
			}
			p, err := tlog.ProveRecord(cp.size, idx, ar)
			if err != nil {
				return checked, asFailure(err, "inclusion proof of entry %d", idx)
			}
			if err := tlog.CheckRecord(p, cp.size, cp.root, idx, rh); err != nil {
				return checked, failf("entry %d: inclusion proof does not verify against root %s: %v", idx, cp.root, err)
			}
			checked++
		}
	}
	if sel == nil {
		if r := mth(all); r != cp.root {
			return checked, failf("the %d entries hash to root %s, checkpoint has %s", len(all), r, cp.root)
		}
	}
	return checked, nil
}

// ---- proof ----

type proofFile struct {
	Index      *int64    `json:"index"`
	TreeSize   *int64    `json:"tree_size"`
	LeafHash   *string   `json:"leaf_hash"`
	Inclusion  *[]string `json:"inclusion"`
	Checkpoint *string   `json:"checkpoint"`
	// The entry itself (base64), as signetd serves it: if present it must
	// be the -entry file's bytes.
	Entry *string `json:"entry"`
}

func cmdProof(args []string) error {
	fs := flag.NewFlagSet("proof", flag.ContinueOnError)
	vkey := fs.String("vkey", "", "verifier key or @FILE")
	proofPath := fs.String("proof", "", "the proof (JSON, as /log/proof/<index> serves it)")
	entryPath := fs.String("entry", "", "the entry's bytes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v, err := loadVerifier(*vkey)
	if err != nil {
		return err
	}
	if *proofPath == "" || *entryPath == "" {
		return &usageError{"proof: -proof and -entry are required"}
	}
	pj, err := os.ReadFile(*proofPath)
	if err != nil {
		return &netError{err}
	}
	entry, err := os.ReadFile(*entryPath)
	if err != nil {
		return &netError{err}
	}

	var p proofFile
	dec := json.NewDecoder(bytes.NewReader(pj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return failf("proof: malformed JSON: %v", err)
	}
	if dec.More() {
		return failf("proof: data after the JSON object")
	}
	if p.Index == nil || p.TreeSize == nil || p.LeafHash == nil || p.Inclusion == nil || p.Checkpoint == nil {
		return failf("proof: missing member (index, tree_size, leaf_hash, inclusion and checkpoint are required)")
	}
	cp, err := openCheckpoint([]byte(*p.Checkpoint), v, "proof's checkpoint")
	if err != nil {
		return err
	}
	fmt.Printf("ok checkpoint size=%d root=%s\n", cp.size, cp.root)
	if *p.TreeSize != cp.size {
		return failf("proof: tree_size %d, its checkpoint has size %d", *p.TreeSize, cp.size)
	}
	if *p.Index < 0 || *p.Index >= cp.size {
		return failf("proof: index %d outside the tree of size %d", *p.Index, cp.size)
	}
	lh, ok := decodeHash(*p.LeafHash)
	if !ok {
		return failf("proof: malformed leaf_hash %q", *p.LeafHash)
	}
	if len(entry) > maxEntry {
		return failf("entry: %d bytes, at most %d", len(entry), maxEntry)
	}
	if p.Entry != nil {
		served, err := base64.StdEncoding.Strict().DecodeString(*p.Entry)
		if err != nil || !bytes.Equal(served, entry) {
			return failf("proof: the proof's entry is not the -entry file's bytes")
		}
	}
	if rh := tlog.RecordHash(entry); rh != lh {
		return failf("proof: leaf_hash %s is not the entry's hash %s", lh, rh)
	}
	var rp tlog.RecordProof
	for i, s := range *p.Inclusion {
		h, ok := decodeHash(s)
		if !ok {
			return failf("proof: malformed inclusion[%d] %q", i, s)
		}
		rp = append(rp, h)
	}
	if err := tlog.CheckRecord(rp, cp.size, cp.root, *p.Index, lh); err != nil {
		return failf("proof: entry %d is not proved in the tree of size %d: %v", *p.Index, cp.size, err)
	}
	fmt.Printf("ok inclusion index=%d tree_size=%d\n", *p.Index, cp.size)
	return nil
}

// ---- entries ----

var entryFields = []string{
	"type", "time", "subscriber", "audit-id", "audit-sha256", "key",
	"spki-sha256", "digest-alg", "digest", "scheme", "sig-sha256",
	"principal", "detail",
}

// Where the listing's fields are in entryFields.
const (
	fType       = 0
	fTime       = 1
	fSubscriber = 2
	fAuditID    = 3
	fAuditHash  = 4
	fKey        = 5
	fSigSHA256  = 10
)

var entryTypes = map[string]bool{
	"sign": true, "key": true, "destroy": true, "cert": true, "revoke": true, "record": true,
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isUpperHex(c) || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// checkValue: bytes 0x21-0x7e, '%' only as %XX (upper-case hex), never
// empty (the empty value is "-").
func checkValue(v string) error {
	if v == "" {
		return errors.New("empty value (an empty value is written -)")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '%':
			if i+2 >= len(v) || !isUpperHex(v[i+1]) || !isUpperHex(v[i+2]) {
				return fmt.Errorf("bad escape at byte %d", i)
			}
			i += 2
		case c < 0x21 || c > 0x7e:
			return fmt.Errorf("byte 0x%02x at %d is not escaped", c, i)
		}
	}
	return nil
}

// parseEntry checks an entry strictly (docs/translog.md, "Entries"): the
// header, every field in the documented order, each line ending in a
// newline (the last one too), values escaped as documented, a known type,
// audit-sha256 64 hex digits. It returns the values in that order.
func parseEntry(e []byte) ([]string, error) {
	if len(e) == 0 || e[len(e)-1] != '\n' {
		return nil, errors.New("does not end in a newline")
	}
	lines := strings.Split(string(e[:len(e)-1]), "\n")
	if lines[0] != entryMagic {
		return nil, fmt.Errorf("first line %q, want %q", lines[0], entryMagic)
	}
	lines = lines[1:]
	vals := make([]string, len(entryFields))
	for i, name := range entryFields {
		if i >= len(lines) {
			return nil, fmt.Errorf("field %q missing (entry ends after %d fields)", name, i)
		}
		got, rest, ok := strings.Cut(lines[i], " ")
		if got != name {
			return nil, fmt.Errorf("field line %d is %q, want field %q (all fields, in the documented order)", i+1, got, name)
		}
		if !ok {
			return nil, fmt.Errorf("field %q has no value", name)
		}
		if err := checkValue(rest); err != nil {
			return nil, fmt.Errorf("field %q: %v", name, err)
		}
		vals[i] = rest
	}
	if len(lines) > len(entryFields) {
		return nil, fmt.Errorf("line %q after the last field", lines[len(entryFields)])
	}
	if !entryTypes[vals[fType]] {
		return nil, fmt.Errorf("unknown type %q", vals[fType])
	}
	if h := vals[fAuditHash]; len(h) != 64 || !isHex(h) {
		return nil, fmt.Errorf("audit-sha256 %q is not 64 hex digits", h)
	}
	return vals, nil
}

func cmdEntries(args []string) error {
	fs := flag.NewFlagSet("entries", flag.ContinueOnError)
	vkey := fs.String("vkey", "", "verifier key or @FILE")
	base := fs.String("url", "", "base URL of the log")
	ca := fs.String("ca", "", "CA certificate file (PEM) for https")
	key := fs.String("key", "", "print only the entries of this key (UUID)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v, err := loadVerifier(*vkey)
	if err != nil {
		return err
	}
	f, err := newFetcher(*base, *ca)
	if err != nil {
		return err
	}
	cp, err := fetchCheckpoint(f, v)
	if err != nil {
		return err
	}
	// Print only once every entry is known to be in the checkpoint's tree.
	var out []string
	leaves := make([]tlog.Hash, 0, cp.size)
	for n := int64(0); n*tileWidth < cp.size; n++ {
		es, err := fetchBundle(f, cp.size, n)
		if err != nil {
			return err
		}
		for j, e := range es {
			idx := n*tileWidth + int64(j)
			leaves = append(leaves, leafHash(e))
			vals, err := parseEntry(e)
			if err != nil {
				return failf("entry %d: %v", idx, err)
			}
			if *key != "" && !strings.EqualFold(vals[fKey], *key) {
				continue
			}
			// <index> <type> <time> <key> <sig-sha256> <audit id>
			out = append(out, fmt.Sprintf("%d %s %s %s %s %s", idx, vals[fType], vals[fTime], vals[fKey], vals[fSigSHA256], vals[fAuditID]))
		}
	}
	if r := mth(leaves); r != cp.root {
		return failf("the %d entries hash to root %s, checkpoint has %s", len(leaves), r, cp.root)
	}
	for _, l := range out {
		fmt.Println(l)
	}
	return nil
}

// ---- audit ----

const (
	auditMagic    = "signet/audit/v1"
	auditPageMax  = 1000     // the limit= asked for
	maxAPIReply   = 64 << 20 // bytes, a page of 1000 records with room to spare
	auditAttempts = 3
	coverWait     = 10 * time.Second
)

// auditLines are the canonical audit text's lines after "id", in order
// (docs/translog.md, "The audit record's hash"), with the audit API's
// member for each; the optional ones are absent when empty.
var auditLines = []struct {
	name, member string
	optional     bool
}{
	{"time", "time", false},
	{"subscriber", "subscriber", false},
	{"key", "key", false},
	{"token", "token", false},
	{"client", "client", false},
	{"action", "action", false},
	{"digest-alg", "digest_algorithm", false},
	{"digest", "digest", false},
	{"scheme", "scheme", false},
	{"result", "result", false},
	{"detail", "detail", false},
	{"policy", "policy", true},
	{"principal", "principal", true},
	{"sig-sha256", "sig_sha256", true},
	{"digest-salt", "digest_salt", true},
}

// Where the record's subscriber is in auditLines.
const aSubscriber = 1

// escapeValue writes a value as docs/translog.md has it: bytes 0x21-0x7e
// but '%' as themselves, every other byte as %XX (upper-case hex); the
// empty value is "-", the value "-" is "%2D".
func escapeValue(v string) string {
	switch v {
	case "":
		return "-"
	case "-":
		return "%2D"
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x21 && c <= 0x7e && c != '%' {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

// An auditRecord is one record of the audit API.
type auditRecord struct {
	id       uint64
	values   []string // auditLines' values, "" when absent
	logIndex int64    // -1: no log_index (the record predates the log)
}

// text is the record's canonical text.
func (r *auditRecord) text() []byte {
	var b bytes.Buffer
	b.WriteString(auditMagic + "\n")
	b.WriteString("id " + escapeValue(strconv.FormatUint(r.id, 10)) + "\n")
	for i, l := range auditLines {
		b.WriteString(l.name + " " + escapeValue(r.values[i]) + "\n")
	}
	return b.Bytes()
}

// hash is the lower-case hex SHA-256 of the canonical text: what the
// record's log entry has as audit-sha256.
func (r *auditRecord) hash() string {
	h := sha256.Sum256(r.text())
	return hex.EncodeToString(h[:])
}

// parseDecimal takes a record id or log index as written in JSON or in an
// entry: decimal digits, no sign, no leading zero, at most 2^64-1.
func parseDecimal(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// jsonUint is a JSON number (decoded with UseNumber) that is a record id
// or a log index; never a float, never a string.
func jsonUint(x interface{}) (uint64, bool) {
	n, ok := x.(json.Number)
	if !ok {
		return 0, false
	}
	return parseDecimal(n.String())
}

// decodeObject decodes one JSON object, numbers as json.Number (ids may be
// beyond 2^53), nothing after it.
func decodeObject(data []byte) (map[string]interface{}, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var o map[string]interface{}
	if err := dec.Decode(&o); err != nil {
		return nil, err
	}
	if o == nil {
		return nil, errors.New("null, not an object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return o, nil
}

// parseAuditRecord takes a record as GET /v1/audit lists it: "id" a
// number, the members of auditLines strings (the optional ones absent or
// null when empty), "log_index" absent, null or a number. Other members
// are ignored.
func parseAuditRecord(o map[string]interface{}) (*auditRecord, error) {
	id, ok := jsonUint(o["id"])
	if !ok {
		return nil, fmt.Errorf("a record's \"id\" is %s, not a record id", describeJSON(o["id"]))
	}
	r := &auditRecord{id: id, values: make([]string, len(auditLines)), logIndex: -1}
	for i, l := range auditLines {
		x := o[l.member]
		if x == nil {
			if l.optional {
				continue
			}
			return nil, fmt.Errorf("record %d: no %q", id, l.member)
		}
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("record %d: %q is %s, not a string", id, l.member, describeJSON(x))
		}
		r.values[i] = s
	}
	if x := o["log_index"]; x != nil {
		n, ok := jsonUint(x)
		if !ok || n > math.MaxInt64 {
			return nil, fmt.Errorf("record %d: \"log_index\" is %s, not a log index", id, describeJSON(x))
		}
		r.logIndex = int64(n)
	}
	return r, nil
}

func describeJSON(x interface{}) string {
	switch x := x.(type) {
	case nil:
		return "absent or null"
	case json.Number:
		return "the number " + x.String()
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return "a boolean"
	case []interface{}:
		return "an array"
	default:
		return "an object"
	}
}

// An apiClient asks the service's API with a bearer token.
type apiClient struct {
	f     *fetcher // its base is API_BASE
	token string
}

// get fetches API_BASE+path and decodes the JSON object it answers. Every
// error is exit 2: an answer other than 200, a malformed one, the network.
func (a *apiClient) get(path string) (map[string]interface{}, error) {
	url := a.f.base + path
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("GET %s: %v", url, err)}
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	resp, err := a.f.client.Do(req)
	if err != nil {
		return nil, &netError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIReply+1))
	if err != nil {
		return nil, &netError{fmt.Errorf("GET %s: %v", url, err)}
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return nil, &netError{fmt.Errorf("GET %s: %s: the API refused the token (not a valid token?)%s", url, resp.Status, apiMessage(body))}
	case http.StatusForbidden:
		return nil, &netError{fmt.Errorf("GET %s: %s: the token may not do this (a subscriber's token with the sign or manage role, not limited to some keys, reads its audit records)%s", url, resp.Status, apiMessage(body))}
	default:
		return nil, &netError{fmt.Errorf("GET %s: %s%s", url, resp.Status, apiMessage(body))}
	}
	if len(body) > maxAPIReply {
		return nil, &netError{fmt.Errorf("GET %s: more than %d bytes", url, maxAPIReply)}
	}
	o, err := decodeObject(body)
	if err != nil {
		return nil, &netError{fmt.Errorf("GET %s: malformed answer: %v", url, err)}
	}
	return o, nil
}

// apiMessage is the error's message of an API refusal ({"error",
// "message"}), if it has one.
func apiMessage(body []byte) string {
	o, err := decodeObject(body)
	if err != nil {
		return ""
	}
	m, _ := o["message"].(string)
	if e, _ := o["error"].(string); e != "" {
		m = strings.TrimSpace(e + " " + m)
	}
	if m == "" {
		return ""
	}
	if len(m) > 200 {
		m = m[:200] + "..."
	}
	return fmt.Sprintf(" (%q)", m)
}

// whoami is the token's subscriber.
func (a *apiClient) whoami() (string, error) {
	o, err := a.get("/v1/whoami")
	if err != nil {
		return "", err
	}
	switch s := o["subscriber"].(type) {
	case string:
		if s != "" {
			return s, nil
		}
	case nil:
		return "", &usageError{"GET /v1/whoami: the token has no subscriber (an operator's?): audit needs a subscriber's token"}
	}
	return "", &netError{fmt.Errorf("GET %s/v1/whoami: malformed answer: \"subscriber\" is %s", a.f.base, describeJSON(o["subscriber"]))}
}

// page is one page of the token's subscriber's audit records: those after
// record id after, at most limit, in increasing id order, next_after the
// last one's id.
func (a *apiClient) page(after uint64, limit int) ([]*auditRecord, error) {
	path := fmt.Sprintf("/v1/audit?limit=%d&after=%d", limit, after)
	malformed := func(format string, args ...interface{}) error {
		return &netError{fmt.Errorf("GET %s%s: malformed answer: %s", a.f.base, path, fmt.Sprintf(format, args...))}
	}
	o, err := a.get(path)
	if err != nil {
		return nil, err
	}
	list, ok := o["records"].([]interface{})
	if !ok {
		return nil, malformed("\"records\" is %s, not an array", describeJSON(o["records"]))
	}
	var out []*auditRecord
	last := after
	for _, x := range list {
		ro, ok := x.(map[string]interface{})
		if !ok {
			return nil, malformed("a record is %s, not an object", describeJSON(x))
		}
		r, err := parseAuditRecord(ro)
		if err != nil {
			return nil, malformed("%v", err)
		}
		if r.id <= last {
			return nil, malformed("record %d after record %d (the ids must increase, from after=%d on)", r.id, last, after)
		}
		last = r.id
		out = append(out, r)
	}
	if len(out) > 0 {
		if next, ok := jsonUint(o["next_after"]); !ok || next != last {
			return nil, malformed("\"next_after\" is %s, not the last record's id %d", describeJSON(o["next_after"]), last)
		}
	}
	return out, nil
}

// records pages through the token's subscriber's audit records, oldest
// first: after=0, then each page's next_after, to an empty page. The ids
// increase throughout, so no record comes twice.
func (a *apiClient) records() ([]*auditRecord, error) {
	var out []*auditRecord
	after := uint64(0)
	for {
		recs, err := a.page(after, auditPageMax)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return out, nil
		}
		out = append(out, recs...)
		after = recs[len(recs)-1].id
	}
}

// A logged record is the latest entry of the subscriber naming an audit id.
type logged struct {
	index int64
	hash  string
}

// auditLog does what tree -entries all does and parses every entry:
// it returns the checkpoint and, by audit id, the latest entry of the
// subscriber naming it.
func auditLog(f *fetcher, v note.Verifier, subscriber string) (*checkpoint, map[uint64]logged, error) {
	cp, tr, ar, err := openTree(f, v)
	if err != nil {
		return nil, nil, err
	}
	mine := map[uint64]logged{}
	esub := escapeValue(subscriber)
	visit := func(idx int64, e []byte) error {
		vals, err := parseEntry(e)
		if err != nil {
			return failf("entry %d: %v", idx, err)
		}
		if vals[fSubscriber] != esub {
			return nil
		}
		id, ok := parseDecimal(vals[fAuditID])
		if !ok {
			return failf("entry %d: audit-id %q is not a record id", idx, vals[fAuditID])
		}
		// In index order: a later entry for the id replaces the earlier.
		mine[id] = logged{idx, vals[fAuditHash]}
		return nil
	}
	checked := 0
	if cp.size > 0 {
		if checked, err = checkEntries(f, tr, ar, cp, -1, visit); err != nil {
			return nil, nil, err
		}
	}
	fmt.Printf("ok entries checked=%d\n", checked)
	return cp, mine, nil
}

// judgeAudit compares the records with the subscriber's entries.
func judgeAudit(recs []*auditRecord, mine map[uint64]logged, subscriber string, cp *checkpoint) error {
	listed := map[uint64]bool{}
	covered, before := 0, 0
	for _, r := range recs {
		listed[r.id] = true
		if s := r.values[aSubscriber]; s != subscriber {
			return failf("audit record %d is of subscriber %q, not %q", r.id, s, subscriber)
		}
		e, ok := mine[r.id]
		if r.logIndex < 0 {
			if ok {
				return failf("audit record %d has no log_index (as if it predated the log), yet log entry %d commits to it", r.id, e.index)
			}
			before++
			continue
		}
		late := ""
		if r.logIndex >= cp.size {
			late = fmt.Sprintf(" (it names log entry %d, beyond the checkpoint's %d entries)", r.logIndex, cp.size)
		}
		if !ok {
			return failf("audit record %d has no log entry%s", r.id, late)
		}
		if h := r.hash(); h != e.hash {
			return failf("audit record %d differs from what log entry %d committed to (audit-sha256 %s, the record hashes to %s)%s", r.id, e.index, e.hash, h, late)
		}
		if r.logIndex != e.index {
			return failf("audit record %d names log entry %d, its latest log entry is %d", r.id, r.logIndex, e.index)
		}
		covered++
	}
	var unlisted []uint64
	for id := range mine {
		if !listed[id] {
			unlisted = append(unlisted, id)
		}
	}
	if len(unlisted) > 0 {
		sort.Slice(unlisted, func(i, j int) bool { return mine[unlisted[i]].index < mine[unlisted[j]].index })
		id := unlisted[0]
		return failf("log entry %d commits to audit record %d, which the audit API does not list", mine[id].index, id)
	}
	fmt.Printf("ok audit records=%d covered=%d before_log=%d\n", len(recs), covered, before)
	return nil
}

// awaitCheckpoint polls the checkpoint (once a second, coverWait at most)
// until it covers entry index.
func awaitCheckpoint(f *fetcher, v note.Verifier, index int64) error {
	deadline := time.Now().Add(coverWait)
	for {
		cp, err := fetchCheckpoint(f, v)
		if err != nil {
			return err
		}
		if cp.size > index || time.Now().After(deadline) {
			return nil
		}
		time.Sleep(time.Second)
	}
}

func cmdAudit(args []string) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	vkey := fs.String("vkey", "", "verifier key or @FILE")
	base := fs.String("url", "", "base URL of the log (BASE/checkpoint, BASE/tile/...)")
	api := fs.String("api", "", "base URL of the API (API_BASE/v1/audit, API_BASE/v1/whoami)")
	tokenFile := fs.String("token-file", "", "file holding the subscriber's bearer token")
	ca := fs.String("ca", "", "CA certificate file (PEM) for https")
	subscriber := fs.String("subscriber", "", "the subscriber (default: the token's, from /v1/whoami)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v, err := loadVerifier(*vkey)
	if err != nil {
		return err
	}
	if *api == "" {
		return &usageError{"-api is required"}
	}
	if !strings.HasPrefix(*api, "http://") && !strings.HasPrefix(*api, "https://") {
		return &usageError{"-api must be http:// or https://"}
	}
	if *tokenFile == "" {
		return &usageError{"-token-file is required"}
	}
	tb, err := os.ReadFile(*tokenFile)
	if err != nil {
		return &netError{err}
	}
	token := strings.TrimSpace(string(tb))
	if token == "" || strings.IndexFunc(token, func(c rune) bool { return c <= ' ' || c >= 0x7f }) >= 0 {
		return &usageError{*tokenFile + ": not a token (one line of printable ASCII)"}
	}
	f, err := newFetcher(*base, *ca)
	if err != nil {
		return err
	}
	af, err := newFetcher(*api, *ca)
	if err != nil {
		return err
	}
	client := &apiClient{f: af, token: token}
	sub := *subscriber
	if sub == "" {
		if sub, err = client.whoami(); err != nil {
			return err
		}
	}
	// One record first: a token refused, a wrong API_BASE, an answer not
	// as expected end the run before the log is read.
	if _, err := client.page(0, 1); err != nil {
		return err
	}

	for attempt := 1; ; attempt++ {
		// The log first, then the records: every record an entry of this
		// checkpoint names is in the database before the records are read.
		cp, mine, err := auditLog(f, v, sub)
		if err != nil {
			return err
		}
		recs, err := client.records()
		if err != nil {
			return err
		}
		var late *auditRecord
		for _, r := range recs {
			if r.logIndex >= cp.size && (late == nil || r.logIndex > late.logIndex) {
				late = r
			}
		}
		if late == nil || attempt == auditAttempts {
			return judgeAudit(recs, mine, sub, cp)
		}
		fmt.Fprintf(os.Stderr, "logverify: audit record %d names log entry %d, beyond the checkpoint's %d entries: checking again with a newer checkpoint\n", late.id, late.logIndex, cp.size)
		if err := awaitCheckpoint(f, v, late.logIndex); err != nil {
			return err
		}
	}
}
