// A test OIDC issuer for Signet's integration tests (issue 16). It serves
// OpenID discovery and a JWKS over HTTPS on loopback, and mints ID tokens
// with the npm `jose` package (an independent JOSE implementation), so that
// Signet's verifier is judged by tokens it did not make.
//
//   node issuer.mjs CERT.pem KEY.pem [PORT]     prints "READY <port>"
//
// Routes (all on the one HTTPS listener):
//   GET  /.well-known/openid-configuration, GET /jwks   what Signet fetches
//   POST /mint   {alg, key, kid, header, claims, aud, iss, iat, exp, nbf}
//                -> the token as text. alg: RS256 | ES256 | none | HS256-pub
//                (HS256 keyed with the RSA public key's PEM: the algorithm
//                confusion attack); key: rsa-1 | ec-1 | rsa-2 (published
//                after /rotate) | rogue (never published). kid null: no
//                kid; claims: merged over the defaults, null removes one;
//                iat/exp/nbf: offsets in seconds from now.
//   POST /rotate publishes rsa-2;  POST /mode {"mode": ok|down|slow}:
//                down closes every discovery/JWKS connection unanswered,
//                slow answers them after 30 s.
//   GET  /stats  how many discovery/JWKS requests were served.
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { randomUUID } from "node:crypto";
import * as jose from "jose";

const [certFile, keyFile, portArg] = process.argv.slice(2);
const AUD = "signet-test";
let issuer = "";
let mode = "ok";
let rotated = false;
let fetches = 0;

const keys = {};
for (const [name, alg] of [["rsa-1", "RS256"], ["ec-1", "ES256"],
                           ["rsa-2", "RS256"], ["rogue", "RS256"]]) {
  const pair = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(pair.publicKey);
  keys[name] = { alg, ...pair, jwk: { ...jwk, kid: name, alg, use: "sig" } };
}

function jwks() {
  const pub = ["rsa-1", "ec-1"];
  if (rotated) pub.push("rsa-2");
  return { keys: pub.map((k) => keys[k].jwk) };
}

function claimsFor(spec) {
  const now = Math.floor(Date.now() / 1000);
  const c = {
    iss: spec.iss ?? issuer,
    aud: spec.aud ?? AUD,
    sub: "repo:acme/app:environment:release",
    repository: "acme/app",
    repository_id: "123456",
    repository_owner: "acme",
    repository_owner_id: "42",
    ref: "refs/tags/v1.0",
    environment: "release",
    jti: randomUUID(),
    iat: now + (spec.iat ?? 0),
    exp: now + (spec.exp ?? 300),
  };
  if (spec.nbf !== undefined) c.nbf = now + spec.nbf;
  for (const [k, v] of Object.entries(spec.claims ?? {})) {
    if (v === null) delete c[k];
    else c[k] = v;
  }
  return c;
}

async function mint(spec) {
  const claims = claimsFor(spec);
  const alg = spec.alg ?? "RS256";
  const keyName = spec.key ?? (alg === "ES256" ? "ec-1" : "rsa-1");
  const header = { alg, typ: "JWT", ...(spec.header ?? {}) };
  if (spec.kid !== null) header.kid = spec.kid ?? keyName;
  if (alg === "none") {
    const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
    return `${enc(header)}.${enc(claims)}.`;
  }
  if (alg === "HS256-pub") {
    header.alg = "HS256";
    const pem = await jose.exportSPKI(keys["rsa-1"].publicKey);
    return new jose.SignJWT(claims).setProtectedHeader(header)
      .sign(new TextEncoder().encode(pem));
  }
  return new jose.SignJWT(claims).setProtectedHeader(header)
    .sign(keys[keyName].privateKey);
}

function body(req) {
  return new Promise((resolve) => {
    let s = "";
    req.on("data", (d) => { s += d; });
    req.on("end", () => resolve(s ? JSON.parse(s) : {}));
  });
}

function send(res, status, obj, type = "application/json") {
  res.writeHead(status, { "content-type": type });
  res.end(typeof obj === "string" ? obj : JSON.stringify(obj));
}

const server = createServer(
  { cert: readFileSync(certFile), key: readFileSync(keyFile) },
  async (req, res) => {
    try {
      const url = req.url;
      if (req.method === "GET" &&
          (url === "/.well-known/openid-configuration" || url === "/jwks")) {
        fetches++;
        if (mode === "down") { req.socket.destroy(); return; }
        const doc = url === "/jwks" ? jwks()
          : { issuer, jwks_uri: `${issuer}/jwks`,
              id_token_signing_alg_values_supported: ["RS256", "ES256"] };
        if (mode === "slow") { setTimeout(() => send(res, 200, doc), 30000); return; }
        return send(res, 200, doc);
      }
      if (req.method === "GET" && url === "/stats") return send(res, 200, { fetches });
      if (req.method === "POST" && url === "/mint")
        return send(res, 200, await mint(await body(req)), "text/plain");
      if (req.method === "POST" && url === "/rotate") { rotated = true; return send(res, 200, jwks()); }
      if (req.method === "POST" && url === "/mode") {
        mode = (await body(req)).mode;
        return send(res, 200, { mode });
      }
      send(res, 404, { error: "not_found" });
    } catch (e) {
      send(res, 500, { error: String(e) });
    }
  });

server.listen(Number(portArg ?? 0), "127.0.0.1", () => {
  const port = server.address().port;
  issuer = `https://127.0.0.1:${port}`;
  console.log(`READY ${port}`);
});
