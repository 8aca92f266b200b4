// An in-memory OAuth client provider for the conformance client: what an app would implement (with real
// storage and a real browser redirect), reduced to memory and a fetch that plays the user's browser.
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { randomUUID } from 'node:crypto';

export interface InMemoryOAuthProviderOptions {
  /** The app's redirect URL (the authorization server redirects the browser there with `code`). */
  redirectUrl: string;
  clientName: string;
  /** A client ID metadata document URL (SEP-991), used when the authorization server supports them. */
  clientMetadataUrl?: string;
  /** Pre-registered client credentials (no dynamic registration). */
  clientInformation?: OAuthClientInformationMixed;
}

/**
 * Keeps the registration, tokens, PKCE verifier and discovery state of one client in memory. One provider
 * serves every session of a pool: tokens and the discovery state it caches are shared by all of them.
 *
 * `redirectToAuthorization` plays the user: it opens the authorization URL the way a browser would (the
 * conformance authorization server approves at once and redirects to `redirectUrl` with a code), and keeps
 * the code for the app's "callback", which hands it to `pool.finishAuth(code)`.
 */
export class InMemoryOAuthProvider implements OAuthClientProvider {
  private client: OAuthClientInformationMixed | undefined;
  private savedTokens: OAuthTokens | undefined;
  private verifier: string | undefined;
  private discovery: OAuthDiscoveryState | undefined;
  private expectedState: string | undefined;
  private pendingCode: string | undefined;
  /** Authorization requests made (each one is a redirect of the user). */
  authorizationRequests = 0;

  constructor(private readonly opts: InMemoryOAuthProviderOptions) {
    this.client = opts.clientInformation;
  }

  get redirectUrl(): string {
    return this.opts.redirectUrl;
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
    if (scope === 'all' || scope === 'client') this.client = this.opts.clientInformation;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    this.authorizationRequests++;
    // The "browser": the conformance authorization server approves at once and redirects to our callback.
    const response = await fetch(authorizationUrl, { redirect: 'manual' });
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (!location) throw new Error(`the authorization endpoint answered ${response.status} without a redirect`);
    const callback = new URL(location);
    if (`${callback.origin}${callback.pathname}` !== this.opts.redirectUrl) throw new Error(`redirected to an unexpected URL: ${location}`);
    if (this.expectedState !== undefined && callback.searchParams.get('state') !== this.expectedState)
      throw new Error('the authorization response carries a state we did not send');
    const code = callback.searchParams.get('code');
    if (!code) throw new Error(`the authorization response has no code: ${callback.searchParams.get('error') ?? location}`);
    this.pendingCode = code;
  }

  /** The code of the last authorization, once (what the app's callback route would receive). */
  takeAuthorizationCode(): string | undefined {
    const code = this.pendingCode;
    this.pendingCode = undefined;
    return code;
  }
}
