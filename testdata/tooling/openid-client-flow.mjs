// Drives npm openid-client (v6) through LoginSign as a relying party. Environment:
// ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI, PAR=1 to push
// the authorization request (RFC 9126), and FORM_POST=1 to ask for response_mode=form_post.
// Protocol on stdio: prints {"authorize": URL} on one line, reads the callback URL (where the
// browser landed) from stdin, or with FORM_POST=1 the form-encoded body posted there, then prints {"steps": [{"step","ok","error"}...], "endSession": URL,
// ...} and exits 0. Every step runs even when an earlier one failed, so the test sees them all.
import * as client from 'openid-client';
import * as readline from 'node:readline';

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is required`);
  return process.env[k];
};
const issuer = new URL(env('ISSUER'));
const config = await client.discovery(issuer, env('CLIENT_ID'), undefined, client.ClientSecretBasic(env('CLIENT_SECRET')), {
  execute: [client.allowInsecureRequests], // the test server is http on loopback
});
client.enableNonRepudiationChecks(config); // verify every id_token's signature against the JWKS

const verifier = client.randomPKCECodeVerifier();
const nonce = client.randomNonce();
const state = client.randomState();
const parameters = {
  redirect_uri: env('REDIRECT_URI'),
  scope: 'openid email profile',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  nonce,
  state,
};
if (process.env.FORM_POST === '1') parameters.response_mode = 'form_post';
// PAR=1: the request is pushed (RFC 9126) and the browser gets only client_id and request_uri.
const authorize = process.env.PAR === '1'
  ? await client.buildAuthorizationUrlWithPAR(config, parameters)
  : client.buildAuthorizationUrl(config, parameters);
console.log(JSON.stringify({ authorize: authorize.href }));

const rl = readline.createInterface({ input: process.stdin });
const line = await new Promise((resolve) => rl.once('line', resolve));
rl.close();
// The answer as the redirect URI received it: a URL, or the form_post answer's POST.
const callback = process.env.FORM_POST === '1'
  ? new Request(env('REDIRECT_URI'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: line })
  : new URL(line);

const out = { steps: [] };
async function step(name, fn) {
  try {
    const v = await fn();
    out.steps.push({ step: name, ok: true });
    return v;
  } catch (e) {
    out.steps.push({ step: name, ok: false, error: `${e.name}: ${e.message}${e.cause ? ' (cause: ' + (e.cause.message || JSON.stringify(e.cause)) + ')' : ''}` });
    return undefined;
  }
}
const must = (cond, msg) => {
  if (!cond) throw new Error(msg);
};

const tokens = await step('authorization_code', async () => {
  const t = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
  });
  must(t.refresh_token, 'no refresh_token');
  return t;
});
const claims = tokens?.claims();
const idTokenHeader = tokens ? JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url')) : {};
out.idTokenAlg = idTokenHeader.alg || '';
out.idTokenKid = idTokenHeader.kid || '';
out.sub = claims?.sub;
await step('userinfo', async () => {
  const u = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  must(u.sub === claims.sub, 'userinfo sub differs from the id_token sub');
  must(u.email === claims.email, 'userinfo email differs from the id_token email');
  out.userinfo = u;
});
const refreshed = await step('refresh_token', async () => {
  const t = await client.refreshTokenGrant(config, tokens.refresh_token);
  must(t.refresh_token && t.refresh_token !== tokens.refresh_token, 'refresh token not rotated');
  return t;
});
await step('introspection', async () => {
  const i = await client.tokenIntrospection(config, refreshed.access_token);
  must(i.active === true && i.client_id === env('CLIENT_ID') && i.sub === claims.sub, `introspection ${JSON.stringify(i)}`);
});
await step('revocation', async () => {
  await client.tokenRevocation(config, refreshed.refresh_token);
  const i = await client.tokenIntrospection(config, refreshed.refresh_token);
  must(i.active === false, 'revoked refresh token still active');
});
await step('client_credentials', async () => {
  const t = await client.clientCredentialsGrant(config, { scope: 'app:users:read' });
  must(t.scope === 'app:users:read' && !t.refresh_token && !t.id_token, `client_credentials ${JSON.stringify(t)}`);
  const i = await client.tokenIntrospection(config, t.access_token);
  must(i.active === true && i.sub === env('CLIENT_ID') && i.scope === 'app:users:read', `introspection ${JSON.stringify(i)}`);
  out.clientCredentialsToken = t.access_token;
});
await step('end_session_url', async () => {
  out.endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token, post_logout_redirect_uri: env('POST_LOGOUT_REDIRECT_URI'), state: 'bye-state',
  }).href;
});
console.log(JSON.stringify(out));
