package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// A record is an audit record as GET /v1/audit lists it (docs/api.md).
type record struct {
	ID              uint64 `json:"id"`
	Time            string `json:"time"`
	Subscriber      string `json:"subscriber"`
	Key             string `json:"key"`
	Token           string `json:"token"`
	Client          string `json:"client"`
	Action          string `json:"action"`
	DigestAlgorithm string `json:"digest_algorithm"`
	Digest          string `json:"digest"`
	Scheme          string `json:"scheme"`
	Result          string `json:"result"`
	Detail          string `json:"detail"`
	Policy          string `json:"policy,omitempty"`
	Principal       string `json:"principal,omitempty"`
	SigSHA256       string `json:"sig_sha256,omitempty"`
	DigestSalt      string `json:"digest_salt,omitempty"`
	LogIndex        *int64 `json:"log_index,omitempty"`
}

// esc: printable ASCII but '%' as itself, every other byte %XX; "" is
// "-", "-" is "%2D" (docs/translog.md).
func esc(v string) string {
	if v == "" {
		return "-"
	}
	if v == "-" {
		return "%2D"
	}
	var b strings.Builder
	for _, c := range []byte(v) {
		if c > ' ' && c < 0x7f && c != '%' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// auditSHA256 is the hex SHA-256 of the record's canonical text.
func auditSHA256(r *record) string {
	var b strings.Builder
	b.WriteString("signet/audit/v1\n")
	for _, kv := range [][2]string{
		{"id", strconv.FormatUint(r.ID, 10)}, {"time", r.Time}, {"subscriber", r.Subscriber},
		{"key", r.Key}, {"token", r.Token}, {"client", r.Client}, {"action", r.Action},
		{"digest-alg", r.DigestAlgorithm}, {"digest", r.Digest}, {"scheme", r.Scheme},
		{"result", r.Result}, {"detail", r.Detail}, {"policy", r.Policy},
		{"principal", r.Principal}, {"sig-sha256", r.SigSHA256}, {"digest-salt", r.DigestSalt},
	} {
		b.WriteString(kv[0] + " " + esc(kv[1]) + "\n")
	}
	s := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(s[:])
}

type auditGen struct {
	seed    string
	idBase  uint64
	me      string          // the subscriber whose records are written
	update  map[int64]int64 // entry J -> entry I whose record it re-commits to
	updated map[int64]bool  // those I
	records []*record       // me's
}

func newAuditGen(seed string, n int64, idBase, before uint64, update string) *auditGen {
	a := &auditGen{seed: seed, idBase: idBase, me: uuid(seed, 0), records: []*record{}, update: map[int64]int64{}, updated: map[int64]bool{}}
	if before >= idBase {
		die("-audit-before %d: the ids before -audit-id-base %d run out", before, idBase)
	}
	for k := before; k > 0; k-- {
		a.records = append(a.records, &record{
			ID: idBase - k, Time: fmt.Sprintf("2026-11-30T23:59:%02dZ", (60-k%60)%60), Subscriber: a.me,
			Token: uuid(seed, 200), Client: "192.0.2.7", Action: "token_create", Result: "ok",
			Detail: "before the log", Principal: uuid(seed, 200),
		})
	}
	if update != "" {
		p := strings.Split(update, ",")
		var i, j int64
		var err1, err2 error
		if len(p) == 2 {
			i, err1 = strconv.ParseInt(p[0], 10, 64)
			j, err2 = strconv.ParseInt(p[1], 10, 64)
		}
		if len(p) != 2 || err1 != nil || err2 != nil || i < 0 || j <= i || j >= n {
			die("-audit-update %q: want I,J with 0 <= I < J < N", update)
		}
		if fields(seed, i)["type"] != "record" {
			die("-audit-update: entry %d is not a record entry", i)
		}
		a.update[j] = i
		a.updated[i] = true
	}
	return a
}

// record is entry i's audit record (f its fields); final: its detail as
// last updated.
func (a *auditGen) record(i int64, f map[string]string, final bool) *record {
	si := strconv.FormatInt(i, 10)
	r := &record{
		ID: a.idBase + uint64(i), Time: f["time"], Token: uuid(a.seed, 200+int(i%3)),
		Client: []string{"192.0.2.7", "2001:db8::7"}[i%2], Result: "ok",
	}
	if f["subscriber"] != "-" {
		r.Subscriber = f["subscriber"]
	}
	if f["key"] != "-" {
		r.Key = f["key"]
	}
	switch f["type"] {
	case "sign":
		r.Action = "sign"
		if i%4 == 0 {
			r.Action = "sign_file"
		}
		r.DigestAlgorithm = "sha256"
		r.Digest = sum(a.seed, "digest", si)
		r.Scheme = f["scheme"]
		r.Policy = "allow subscriber"
		r.SigSHA256 = f["sig-sha256"]
		r.Principal = r.Token
		if i%2 == 0 {
			r.Principal = "oidc policy=" + uuid(a.seed, 300) + " iss=https://ci.example sub=repo:acme/app:ref:refs/heads/main run_id=" + si
		}
		if strings.HasPrefix(f["digest"], "commit:") {
			r.DigestSalt = sum(a.seed, "salt", si)
		}
	case "key":
		r.Action = "key_generate"
		r.Detail = "attestation sha256=" + sum(a.seed, "attestation", si)
	case "destroy":
		r.Action = "key_destroy"
	case "cert":
		r.Action = "ca_issue"
		r.Detail = "serial=" + si
	case "revoke":
		r.Action = "ca_revoke"
		r.Detail = "serial=" + si + " reason=keyCompromise"
	case "record":
		k := i / 2 % 4
		if a.updated[i] {
			k = 1
		}
		switch k {
		case 0:
			r.Action = "token_create"
			r.Detail = "name=ci runner 100% caf\u00e9"
		case 1:
			r.Action = "denied"
			r.Result = "denied"
			r.Detail = "refused: key disabled"
			if final {
				r.Detail += " (x2)"
			}
			r.Policy = "deny key max-per-day"
		case 2:
			r.Action = "oidc_exchange"
			r.Detail = "-"
		case 3:
			r.Action = "key_policy_set"
			r.Detail = "tab\there\nnewline ~!\"<&>"
		}
	}
	return r
}

// commit makes entry i's fields f commit to its audit record.
func (a *auditGen) commit(seed string, i int64, f map[string]string) {
	if orig, ok := a.update[i]; ok {
		fo := fields(seed, orig)
		r := a.record(orig, fo, true)
		li := i
		r.LogIndex = &li
		for k := range f {
			f[k] = "-"
		}
		f["type"], f["time"], f["subscriber"] = "record", fo["time"], fo["subscriber"]
		f["audit-id"] = strconv.FormatUint(r.ID, 10)
		f["audit-sha256"] = auditSHA256(r)
		a.keep(r)
		return
	}
	r := a.record(i, f, !a.updated[i])
	li := i
	r.LogIndex = &li
	f["audit-id"] = strconv.FormatUint(r.ID, 10)
	f["audit-sha256"] = auditSHA256(r)
	switch f["type"] {
	case "sign":
		f["principal"] = esc(r.Principal)
		f["detail"] = "-"
		if r.DigestSalt != "" {
			salt, _ := hex.DecodeString(r.DigestSalt)
			d, _ := hex.DecodeString(r.Digest)
			c := sha256.Sum256(append(append([]byte("signet-commit/v1\n"), salt...), d...))
			f["digest"] = "commit:" + hex.EncodeToString(c[:])
		}
	case "record":
		f["detail"] = "-"
	default:
		f["detail"] = esc(r.Detail)
	}
	if !a.updated[i] {
		a.keep(r)
	}
}

func (a *auditGen) keep(r *record) {
	if r.Subscriber == a.me {
		a.records = append(a.records, r)
	}
}

func (a *auditGen) write(dir string) {
	sort.Slice(a.records, func(i, j int) bool { return a.records[i].ID < a.records[j].ID })
	j, err := json.MarshalIndent(a.records, "", " ")
	if err != nil {
		die("%v", err)
	}
	put(dir, "records.json", append(j, '\n'))
	j, err = json.Marshal(map[string]interface{}{
		"token_id": uuid(a.seed, 200), "subscriber": a.me, "admin": false,
		"roles": []string{"sign", "manage"}, "keys": []string{}, "auth": "bearer",
	})
	if err != nil {
		die("%v", err)
	}
	put(dir, "whoami.json", append(j, '\n'))
}
