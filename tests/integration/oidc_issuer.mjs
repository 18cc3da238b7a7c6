// oidc_issuer.mjs: a test OIDC issuer (discovery + JWKS over HTTPS on
// loopback; tokens signed with npm jose) for test_oidc_client.sh.
//   node oidc_issuer.mjs serve DIR PORT   (DIR holds tls.key, tls.crt)
//   node oidc_issuer.mjs mint DIR CLAIMS_JSON
// JOSE_ESM names jose's ESM entry point. Stops by itself after
// OIDC_ISSUER_LIFETIME seconds (default 600).
const jose = await import(process.env.JOSE_ESM);
import https from 'node:https';
import fs from 'node:fs';
const [cmd, dir, arg] = process.argv.slice(2);
if (cmd === 'serve') {
  const { publicKey, privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const pub = await jose.exportJWK(publicKey); pub.kid = 'k1'; pub.alg = 'RS256'; pub.use = 'sig';
  const priv = await jose.exportJWK(privateKey); priv.kid = 'k1';
  const iss = `https://127.0.0.1:${arg}`;
  fs.writeFileSync(`${dir}/key.json`, JSON.stringify({ iss, priv }));
  https.createServer({ key: fs.readFileSync(`${dir}/tls.key`), cert: fs.readFileSync(`${dir}/tls.crt`) }, (req, res) => {
    if (req.url === '/.well-known/openid-configuration') { res.setHeader('content-type','application/json'); res.end(JSON.stringify({ issuer: iss, jwks_uri: `${iss}/jwks` })); }
    else if (req.url === '/jwks') { res.setHeader('content-type','application/json'); res.end(JSON.stringify({ keys: [pub] })); }
    else { res.statusCode = 404; res.end(); }
  }).listen(Number(arg), "127.0.0.1");
  setTimeout(() => process.exit(0), 1000 * Number(process.env.OIDC_ISSUER_LIFETIME || 600));
} else if (cmd === 'mint') {
  const { iss, priv } = JSON.parse(fs.readFileSync(`${dir}/key.json`));
  const key = await jose.importJWK(priv, 'RS256');
  const claims = JSON.parse(arg);
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new jose.SignJWT({ sub: 'repo:acme/app', jti: crypto.randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT' })
    .setIssuer(iss).setIssuedAt(now).setNotBefore(now).setExpirationTime(now + 300).sign(key);
  process.stdout.write(jwt + '\n');
}
