// The guard's proxy under the v2 client's own auth(): a provider that keeps tokens per authorization server
// (the { issuer } context the v2 client passes) must still find them, so a refresh stays silent. Found in review.
import { auth } from '@modelcontextprotocol/client';
import { ReauthGuard } from '../../lib/transports/reauth-guard';

const AS = 'https://as.example';
const MCP = 'https://mcp.example/mcp';

/** A provider written as the v2 docs say: tokens kept per authorization server (ctx.issuer). */
class PerIssuerProvider {
  byIssuer = new Map<string | undefined, { access_token: string; refresh_token?: string }>();
  latest: { access_token: string } | undefined;
  get redirectUrl() { return 'http://localhost/cb'; }
  get clientMetadata() { return { redirect_uris: ['http://localhost/cb'], client_name: 'x' }; }
  clientInformation() { return { client_id: 'c1', issuer: AS }; }
  tokens(ctx?: { issuer: string }) { return ctx ? this.byIssuer.get(ctx.issuer) : this.latest; }
  saveTokens(t: { access_token: string }, ctx?: { issuer: string }) { this.byIssuer.set(ctx?.issuer, t); this.latest = t; }
  saveCodeVerifier() {}
  codeVerifier() { return 'verifier'; }
  redirectToAuthorization() {}
  discoveryState() { return { authorizationServerUrl: AS }; }
  saveDiscoveryState() {}
}

const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
const fetchFn = async (url: string | URL): Promise<Response> => {
  const u = String(url);
  if (u.includes('oauth-protected-resource')) return json({ resource: MCP, authorization_servers: [AS] });
  if (u.includes('oauth-authorization-server') || u.includes('openid-configuration'))
    return json({ issuer: AS, authorization_endpoint: `${AS}/authorize`, token_endpoint: `${AS}/token`, response_types_supported: ['code'], code_challenge_methods_supported: ['S256'] });
  if (u === `${AS}/token`) return json({ access_token: 'at-1', refresh_token: 'rt-1', token_type: 'Bearer', expires_in: 60 });
  return new Response('not found', { status: 404 });
};

it.each([['raw provider', false], ['through the guard', true]])('%s: the code exchange stores the tokens under the issuer', async (_l, guarded) => {
  const user = new PerIssuerProvider();
  const provider = guarded ? new ReauthGuard().wrap(user) : user;
  expect(await auth(provider as never, { serverUrl: MCP, authorizationCode: 'code-1', fetchFn: fetchFn as never })).toBe('AUTHORIZED');
  expect([...user.byIssuer.keys()]).toEqual([AS]);
});

it.each([['raw provider', false], ['through the guard', true]])('%s: when the token expires, auth() refreshes it silently', async (_l, guarded) => {
  const user = new PerIssuerProvider();
  const provider = guarded ? new ReauthGuard().wrap(user) : user;
  await auth(provider as never, { serverUrl: MCP, authorizationCode: 'code-1', fetchFn: fetchFn as never });
  // A later 401 (expired token): the SDK reads tokens({ issuer }) to refresh.
  expect(await auth(provider as never, { serverUrl: MCP, fetchFn: fetchFn as never })).toBe('AUTHORIZED'); // not 'REDIRECT': the user is not asked again
});
