// A real OpenID provider for the auth tests: oauth2-mock-server's issuer,
// discovery document, JWKS and token endpoint, on 127.0.0.1 (PORT, default
// a free one). Prints "OIDC_ISSUER=<url>" once it listens; exits when its
// standard input closes, so it never outlives the test that started it.
//
// Beyond the package's own behaviour, for the tests:
//   - POST /_test/rotate makes a new RS256 signing key, signs with it from
//     then on, and removes every older key from the JWKS; answers {"kid"}.
//   - The token endpoint takes form fields `aud` (the token's audience) and
//     `expires_in` (seconds from now, negative for an expired token).
//     `grant_type=password&username=SUB` makes a token for subject SUB.
import http from "node:http";
import { OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";

const issuer = new OAuth2Issuer();
const service = new OAuth2Service(issuer);
const store = issuer.keys;
const retired = new Set();
let current = (await store.generate("RS256")).kid;

// The store signs round-robin and never forgets a key: sign with the
// current key only, and publish only keys not retired.
const pick = store.get.bind(store);
store.get = (kid) => pick(kid ?? current);
const publish = store.toJSON.bind(store);
store.toJSON = (includePrivate) =>
  publish(includePrivate).filter((key) => !retired.has(key.kid));

service.on("beforeTokenSigning", (token, req) => {
  const body = req.body ?? {};
  if (body.aud !== undefined) token.payload.aud = body.aud;
  if (body.expires_in !== undefined) {
    token.payload.exp = token.payload.iat + Number(body.expires_in);
  }
});

async function rotate(res) {
  const previous = store.toJSON().map((key) => key.kid);
  current = (await store.generate("RS256")).kid;
  for (const kid of previous) retired.add(kid);
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ kid: current }));
}

const server = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/_test/rotate") {
    rotate(res).catch((error) => {
      res.writeHead(500);
      res.end(String(error));
    });
    return;
  }
  service.requestHandler(req, res);
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  issuer.url = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`OIDC_ISSUER=${issuer.url}\n`);
});

process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
