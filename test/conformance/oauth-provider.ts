// The OAuth client provider of the conformance clients: what an app would implement (with real storage and a
// real browser redirect), reduced to memory and a fetch that plays the user's browser. One provider for every
// server the client meets: what it does follows from its configuration and from what the authorization server
// says it supports, never from which test is running.
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import { createPrivateKeyJwtAuth } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { randomUUID } from 'node:crypto';

/** Client credentials the app was configured with (pre-registered with the authorization server). */
export interface ConfiguredClientCredentials {
  clientId: string;
  /** client_secret_basic / client_secret_post, as the authorization server supports. */
  clientSecret?: string;
  /** A PKCS#8 PEM key for private_key_jwt client authentication. */
  privateKeyPem?: string;
  /** The key's JWS algorithm (default ES256). */
  signingAlgorithm?: string;
}

export interface AppOAuthProviderOptions {
  /** The app's redirect URL (the authorization server redirects the browser there with `code`). */
  redirectUrl: string;
  clientName: string;
  /** A client ID metadata document URL (SEP-991) the app publishes, used where the server supports them. */
  clientMetadataUrl?: string;
  /** Pre-registered client credentials; without them the client registers dynamically. */
  credentials?: ConfiguredClientCredentials;
}

type TokenEndpointAuth = NonNullable<OAuthClientProvider['addClientAuthentication']>;

/**
 * Keeps the registration, tokens, PKCE verifier and discovery state of one client in memory. One provider
 * serves every session of a pool (and every transport of a plain SDK client): tokens and the discovery state
 * it caches are shared by all of them.
 *
 * The grant: an app that holds client credentials acts as itself (client_credentials, no user) when the
 * authorization server offers that grant and no authorization code grant; otherwise it acts for the user
 * (authorization code with PKCE), authenticating with its credentials if it has them.
 *
 * `redirectToAuthorization` plays the user: it opens the authorization URL the way a browser would (an
 * authorization server that approves at once redirects to `redirectUrl` with a code), and keeps the code for
 * the app's "callback", which hands it to `finishAuth(code)`.
 */
export class AppOAuthProvider implements OAuthClientProvider {
  private client: OAuthClientInformationMixed | undefined;
  private savedTokens: OAuthTokens | undefined;
  private verifier: string | undefined;
  private discovery: OAuthDiscoveryState | undefined;
  private expectedState: string | undefined;
  private pendingCode: string | undefined;
  private readonly jwtAuth: TokenEndpointAuth | undefined;
  /** Authorization requests made (each one is a redirect of the user). */
  authorizationRequests = 0;

  constructor(private readonly opts: AppOAuthProviderOptions) {
    this.client = configuredClient(opts.credentials);
    const c = opts.credentials;
    this.jwtAuth = c?.privateKeyPem
      ? createPrivateKeyJwtAuth({ issuer: c.clientId, subject: c.clientId, privateKey: c.privateKeyPem, alg: c.signingAlgorithm ?? 'ES256' })
      : undefined;
  }

  /** Acting as itself (client_credentials): configured credentials and a server that offers only that grant. */
  private get actsAsItself(): boolean {
    const grants = this.discovery?.authorizationServerMetadata?.grant_types_supported;
    return this.opts.credentials !== undefined && !!grants && grants.includes('client_credentials') && !grants.includes('authorization_code');
  }

  /** No redirect URL tells the SDK to run a non-interactive flow (fetch a token, no user). */
  get redirectUrl(): string | undefined {
    return this.actsAsItself ? undefined : this.opts.redirectUrl;
  }

  get clientMetadataUrl(): string | undefined {
    return this.opts.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.opts.clientName,
      redirect_uris: [this.opts.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    };
  }

  /** private_key_jwt when the app has a key; otherwise the SDK picks what the server supports for the secret. */
  get addClientAuthentication(): TokenEndpointAuth | undefined {
    return this.jwtAuth;
  }

  prepareTokenRequest(scope?: string): URLSearchParams | undefined {
    if (!this.actsAsItself) return undefined; // the SDK's authorization code exchange
    const params = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope) params.set('scope', scope);
    return params;
  }

  state(): string {
    this.expectedState = randomUUID();
    return this.expectedState;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.client = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.savedTokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.savedTokens = tokens;
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.verifier = codeVerifier;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new Error('no PKCE code verifier was saved');
    return this.verifier;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.discovery;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'tokens') this.savedTokens = undefined;
    if (scope === 'all' || scope === 'client') this.client = configuredClient(this.opts.credentials);
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    this.authorizationRequests++;
    // The "browser": an authorization server that approves at once redirects to our callback.
    const response = await fetch(authorizationUrl, { redirect: 'manual' });
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (!location) throw new Error(`the authorization endpoint answered ${response.status} without a redirect`);
    const callback = new URL(location);
    if (`${callback.origin}${callback.pathname}` !== this.opts.redirectUrl) throw new Error(`redirected to an unexpected URL: ${callback.origin}${callback.pathname}`);
    if (this.expectedState !== undefined && callback.searchParams.get('state') !== this.expectedState)
      throw new Error('the authorization response carries a state we did not send');
    const code = callback.searchParams.get('code');
    if (!code) throw new Error(`the authorization response has no code: ${callback.searchParams.get('error') ?? 'no error given'}`);
    this.pendingCode = code;
    // RFC 9207: the issuer the authorization server names in its response (checked by clients that verify it).
    this.pendingIss = callback.searchParams.get('iss') ?? undefined;
  }

  /** The `iss` of the last authorization response, if it had one (RFC 9207), once. */
  takeAuthorizationIssuer(): string | undefined {
    const iss = this.pendingIss;
    this.pendingIss = undefined;
    return iss;
  }

  /** The code of the last authorization, once (what the app's callback route would receive). */
  private pendingIss: string | undefined;

  takeAuthorizationCode(): string | undefined {
    const code = this.pendingCode;
    this.pendingCode = undefined;
    return code;
  }
}

function configuredClient(c: ConfiguredClientCredentials | undefined): OAuthClientInformationMixed | undefined {
  if (!c) return undefined;
  return c.clientSecret !== undefined ? { client_id: c.clientId, client_secret: c.clientSecret } : { client_id: c.clientId };
}
