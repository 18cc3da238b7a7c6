// Command mklog writes a synthetic Signet transparency log into a
// directory, in the layout docs/translog.md serves under /log/ (C2SP
// tlog-tiles and a signed-note checkpoint), for logverify's selftest. It
// uses x/mod's tlog for the hashes and tiles and note for the signature;
// nothing of the C code.
//
//	mklog genkey -name ORIGIN -skey FILE
//	    A new Ed25519 signer key into FILE; prints the verifier key.
//	mklog write -dir DIR -skey FILE -n N [-seed S] [-badroot] [-badentry I] [-proof I,...]
//	            [-checkpoint-only] [-origin O] [-size-text T] [-ext LINE]
//	            [-audit APIDIR [-audit-id-base B] [-audit-before K] [-audit-update I,J]]
//	    The log of N entries (entry i depends only on S and i, so a larger
//	    N with the same S extends the log): DIR/checkpoint, DIR/tile/...,
//	    and for each -proof index DIR/proof/<I> (JSON) and DIR/proof/<I>.entry.
//	    -badroot signs a checkpoint whose root has one bit flipped;
//	    -badentry I writes entry I with two field lines swapped (the tree
//	    is built over it, so only the entry format is wrong);
//	    -checkpoint-only writes DIR/checkpoint alone; -origin, -size-text
//	    replace the checkpoint's origin and size lines (the key's name and
//	    N otherwise), -ext adds an extension line after the root.
//
//	    -audit makes each entry commit to an audit record (docs/translog.md,
//	    "The audit record's hash"), record B+i for entry i (B 1000 by
//	    default), and writes what a fake audit API serves for subscriber
//	    uuid(S, 0), the one whose entries are i%5 == 0 (but not i%11 == 0:
//	    the operators'): APIDIR/records.json, that subscriber's records in
//	    id order as GET /v1/audit lists them (log_index i), and
//	    APIDIR/whoami.json. -audit-before K adds K records before the log
//	    (ids B-K ... B-1, no log_index, no entries); -audit-update I,J makes
//	    entry J (a record entry) re-commit to entry I's record (a denied
//	    record, I a record entry too), its detail since grown by " (x2)":
//	    entry I commits to the detail without it, the record listed has
//	    it and log_index J.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const h = 8

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "mklog: "+format+"\n", a...)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: mklog genkey|write ...")
	}
	switch os.Args[1] {
	case "genkey":
		genkey(os.Args[2:])
	case "write":
		write(os.Args[2:])
	default:
		die("unknown command %s", os.Args[1])
	}
}

func genkey(args []string) {
	fs := flag.NewFlagSet("genkey", flag.ExitOnError)
	name := fs.String("name", "", "origin / key name")
	out := fs.String("skey", "", "signer key file")
	fs.Parse(args)
	skey, vkey, err := note.GenerateKey(rand.Reader, *name)
	if err != nil {
		die("%v", err)
	}
	if err := os.WriteFile(*out, []byte(skey+"\n"), 0600); err != nil {
		die("%v", err)
	}
	fmt.Println(vkey)
}

func sum(parts ...string) string {
	s := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(s[:])
}

func uuid(seed string, k int) string {
	x := sum(seed, "uuid", strconv.Itoa(k))
	return x[0:8] + "-" + x[8:12] + "-4" + x[13:16] + "-a" + x[17:20] + "-" + x[20:32]
}

// entry i of the log with this seed, in the signet/entry/v1 format; with
// a, committing to its audit record.
func entry(seed string, i int64, bad bool, a *auditGen) []byte {
	f := fields(seed, i)
	if a != nil {
		a.commit(seed, i, f)
	}
	order := []string{"type", "time", "subscriber", "audit-id", "audit-sha256", "key", "spki-sha256", "digest-alg", "digest", "scheme", "sig-sha256", "principal", "detail"}
	if bad {
		order[5], order[6] = order[6], order[5]
	}
	var b strings.Builder
	b.WriteString("signet/entry/v1\n")
	for _, k := range order {
		b.WriteString(k + " " + f[k] + "\n")
	}
	return []byte(b.String())
}

// fields are entry i's values, as written (escaped).
func fields(seed string, i int64) map[string]string {
	si := strconv.FormatInt(i, 10)
	types := []string{"sign", "sign", "record", "key", "sign", "cert", "record", "revoke", "destroy"}
	typ := types[i%int64(len(types))]
	if i == 0 {
		typ = "record"
	}
	f := map[string]string{}
	for _, k := range []string{"key", "spki-sha256", "digest-alg", "digest", "scheme", "sig-sha256", "principal", "detail"} {
		f[k] = "-"
	}
	f["type"] = typ
	f["time"] = fmt.Sprintf("2026-12-%02dT%02d:%02d:%02dZ", 1+i/86400%28, i/3600%24, i/60%60, i%60)
	f["subscriber"] = uuid(seed, int(i%5))
	if i%11 == 0 {
		f["subscriber"] = "-"
	}
	f["audit-id"] = strconv.FormatInt(1000+i, 10)
	f["audit-sha256"] = sum(seed, "audit", si)
	key := uuid(seed, 100+int(i%7))
	switch typ {
	case "sign":
		f["key"] = key
		f["spki-sha256"] = sum(seed, "spki", key)
		f["digest-alg"] = "sha256"
		f["digest"] = sum(seed, "digest", si)
		if i%3 == 0 {
			f["digest"] = "commit:" + sum(seed, "commit", si)
		}
		f["scheme"] = []string{"pkcs1", "pss", "ecdsa"}[i%3]
		f["sig-sha256"] = sum(seed, "sig", si)
		f["principal"] = "token:ci%20runner%25" + si
	case "key", "destroy", "cert", "revoke":
		f["key"] = key
		f["spki-sha256"] = sum(seed, "spki", key)
		f["detail"] = "serial%3D" + si
	case "record":
		f["detail"] = "login%20ok%2C%20user%3Dalice"
		if i%2 == 0 {
			f["detail"] = "-"
		}
	}
	return f
}

// c2spPath turns x/mod's tile path (tile/8/L/N, tile/8/data/N) into C2SP's.
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", h))
	p = strings.Replace(p, "data/", "entries/", 1)
	return "tile/" + p
}

func put(dir, rel string, data []byte) {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0755); err != nil {
		die("%v", err)
	}
	if err := os.WriteFile(p, data, 0644); err != nil {
		die("%v", err)
	}
}

func write(args []string) {
	fs := flag.NewFlagSet("write", flag.ExitOnError)
	dir := fs.String("dir", "", "output directory")
	skeyFile := fs.String("skey", "", "signer key file")
	n := fs.Int64("n", 0, "number of entries")
	seed := fs.String("seed", "a", "seed of the entries")
	badroot := fs.Bool("badroot", false, "sign a wrong root")
	badentry := fs.Int64("badentry", -1, "write this entry with two fields swapped")
	proofs := fs.String("proof", "", "comma-separated indexes to write proofs for")
	cpOnly := fs.Bool("checkpoint-only", false, "write the checkpoint only")
	origin := fs.String("origin", "", "origin line (default: the key's name)")
	sizeText := fs.String("size-text", "", "size line (default: N)")
	ext := fs.String("ext", "", "an extension line after the root")
	auditDir := fs.String("audit", "", "commit the entries to audit records; write the fake audit API here")
	idBase := fs.Uint64("audit-id-base", 1000, "the audit id of entry 0 (with -audit)")
	before := fs.Uint64("audit-before", 0, "records before the log (with -audit)")
	update := fs.String("audit-update", "", "I,J: entry J re-commits to entry I's record (with -audit)")
	fs.Parse(args)
	var a *auditGen
	if *auditDir != "" {
		a = newAuditGen(*seed, *n, *idBase, *before, *update)
	}

	skey, err := os.ReadFile(*skeyFile)
	if err != nil {
		die("%v", err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		die("%v", err)
	}

	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= int64(len(stored)) {
				return nil, fmt.Errorf("hash %d not stored", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	entries := make([][]byte, *n)
	for i := int64(0); i < *n; i++ {
		entries[i] = entry(*seed, i, i == *badentry, a)
		hs, err := tlog.StoredHashes(i, entries[i], r)
		if err != nil {
			die("%v", err)
		}
		stored = append(stored, hs...)
	}

	// Hash tiles: every full tile and the partial one at each level.
	for L := 0; !*cpOnly && *n>>(uint(h*L)) > 0; L++ {
		count := *n >> uint(h*L)
		for N := int64(0); N*(1<<h) < count; N++ {
			w := count - N*(1<<h)
			if w > 1<<h {
				w = 1 << h
			}
			t := tlog.Tile{H: h, L: L, N: N, W: int(w)}
			data, err := tlog.ReadTileData(t, r)
			if err != nil {
				die("%v", err)
			}
			put(*dir, c2spPath(t), data)
		}
	}
	// Entry bundles.
	for N := int64(0); !*cpOnly && N*(1<<h) < *n; N++ {
		end := (N + 1) << h
		if end > *n {
			end = *n
		}
		var b []byte
		for _, e := range entries[N<<h : end] {
			b = append(b, byte(len(e)>>8), byte(len(e)))
			b = append(b, e...)
		}
		put(*dir, c2spPath(tlog.Tile{H: h, L: -1, N: N, W: int(end - N<<h)}), b)
	}

	root, err := tlog.TreeHash(*n, r)
	if err != nil {
		die("%v", err)
	}
	if *n == 0 {
		root = sha256.Sum256(nil)
	}
	if *badroot {
		root[7] ^= 0x10
	}
	if *origin == "" {
		*origin = signer.Name()
	}
	if *sizeText == "" {
		*sizeText = strconv.FormatInt(*n, 10)
	}
	text := fmt.Sprintf("%s\n%s\n%s\n", *origin, *sizeText, root)
	if *ext != "" {
		text += *ext + "\n"
	}
	cp, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		die("%v", err)
	}
	put(*dir, "checkpoint", cp)
	if a != nil {
		a.write(*auditDir)
	}

	if *proofs != "" {
		for _, s := range strings.Split(*proofs, ",") {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil || i < 0 || i >= *n {
				die("bad -proof index %q", s)
			}
			p, err := tlog.ProveRecord(*n, i, r)
			if err != nil {
				die("%v", err)
			}
			inc := []string{}
			for _, x := range p {
				inc = append(inc, x.String())
			}
			j, err := json.Marshal(map[string]interface{}{
				"index":      i,
				"tree_size":  *n,
				"leaf_hash":  tlog.RecordHash(entries[i]).String(),
				"inclusion":  inc,
				"checkpoint": string(cp),
			})
			if err != nil {
				die("%v", err)
			}
			put(*dir, "proof/"+s, j)
			put(*dir, "proof/"+s+".entry", entries[i])
		}
	}
}
