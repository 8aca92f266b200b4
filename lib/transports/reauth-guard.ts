import { createHash } from 'node:crypto';

/**
 * Raised (inside the SDK's OAuth flow, which passes it on) instead of asking the user to authorize again for
 * an `insufficient_scope` challenge that the token from their last authorization for that same challenge
 * still gets: the server will not be satisfied by a second identical authorization. The pool reports it as
 * an auth error (McpAuthError, status 403), with this as `cause`.
 */
export class RepeatedAuthChallengeError extends Error {
  readonly status = 403;
  constructor(scope: string | undefined) {
    super(
      `the MCP server answered insufficient_scope${scope ? ` (scope "${scope}")` : ''} again to the token authorized for that same challenge; ` +
        'not asking the user to authorize the same thing again',
    );
    this.name = 'RepeatedAuthChallengeError';
  }
}

/** What the guard needs of an OAuth client provider: the same two methods in the SDK 1.x and v2 shapes. */
interface GuardedMethods {
  saveCodeVerifier(codeVerifier: string): void | Promise<void>;
  saveTokens(tokens: { access_token: string }): void | Promise<void>;
}

/** The last 401/403 challenge from the MCP endpoint itself, and which token the refused request carried. */
interface EndpointChallenge {
  at: number;
  /** `<status> <WWW-Authenticate>`: what tells one challenge from another. */
  key: string;
  insufficientScope: boolean;
  scope?: string;
  /** A hash of the bearer token the refused request carried (never the token itself). */
  presented?: string;
}

/** How long a noted endpoint challenge counts as the one the OAuth flow is answering. */
const CHALLENGE_MEMORY_MS = 30_000;

/**
 * The guard against sending the user to authorize, once more, a challenge they already answered — for one
 * driver, whichever SDK runs its OAuth flow.
 *
 * Every pool session is its own transport, and both SDKs keep their "403 after step-up" limit inside one
 * transport: a session created after an authorization starts the same authorization again, for ever (the
 * conformance scenario `auth/scope-retry-limit`). The guard sees every session: the driver's fetch reports
 * the endpoint's challenges ({@link note}), the provider is seen through {@link wrap}, and the driver's
 * `finishAuth` runs its code exchange inside {@link exchange}. When the challenge that starts a new
 * authorization is one the user already answered, and the refused request carried the very token that answer
 * produced, it throws {@link RepeatedAuthChallengeError} before a new PKCE verifier replaces the saved one.
 */
export class ReauthGuard {
  private challenge: EndpointChallenge | undefined;
  /** The insufficient_scope challenge an interactive authorization was started for (until its code is exchanged). */
  private authorizingFor: string | undefined;
  /** A code exchange (finishAuth) is running: the tokens saved now are the user's answer. */
  private exchanging = false;
  /** insufficient_scope challenge key -> hash of the access token the user's authorization for it produced. */
  private readonly authorizedFor = new Map<string, string>();

  /** Notes a 401/403 of the MCP endpoint and the `Authorization` the refused request carried. */
  note(authorization: string | null | undefined, status: number, wwwAuthenticate: string | null | undefined): void {
    if (status !== 401 && status !== 403) return;
    const header = wwwAuthenticate ?? '';
    const bearer = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1];
    this.challenge = {
      at: Date.now(),
      key: `${status} ${header}`,
      insufficientScope: status === 403 && authParam(header, 'error') === 'insufficient_scope',
      scope: authParam(header, 'scope'),
      presented: bearer === undefined ? undefined : tokenHash(bearer),
    };
  }

  /** Runs the code exchange of the user's authorization (the tokens it saves are their answer). */
  async exchange<T>(run: () => Promise<T>): Promise<T> {
    this.exchanging = true;
    try {
      return await run();
    } finally {
      this.exchanging = false;
    }
  }

  /** The user's provider, seen through a proxy that watches the two steps of an interactive authorization. */
  wrap<P extends object>(provider: P): P {
    const target = provider as P & GuardedMethods;
    const saveCodeVerifier = async (codeVerifier: string): Promise<void> => {
      const c = this.challenge;
      const current = c && c.insufficientScope && Date.now() - c.at < CHALLENGE_MEMORY_MS ? c : undefined;
      if (current?.presented !== undefined && this.authorizedFor.get(current.key) === current.presented) {
        throw new RepeatedAuthChallengeError(current.scope);
      }
      this.authorizingFor = current?.key;
      await target.saveCodeVerifier(codeVerifier);
    };
    const saveTokens = async (tokens: { access_token: string }): Promise<void> => {
      await target.saveTokens(tokens);
      if (!this.exchanging) return; // a refresh or a non-interactive grant: not the user's answer
      if (this.authorizingFor !== undefined) this.authorizedFor.set(this.authorizingFor, tokenHash(tokens.access_token));
      this.authorizingFor = undefined;
    };
    return new Proxy(target, {
      get(object, prop) {
        if (prop === 'saveCodeVerifier' && typeof object.saveCodeVerifier === 'function') return saveCodeVerifier;
        if (prop === 'saveTokens' && typeof object.saveTokens === 'function') return saveTokens;
        // Getters (redirectUrl, clientMetadata, …) and methods run on the user's object, as without the proxy.
        const value: unknown = Reflect.get(object, prop, object);
        return typeof value === 'function' ? value.bind(object) : value;
      },
    });
  }
}

/** One auth-param of a `WWW-Authenticate` challenge (`name="value"` or `name=token`), as the SDKs read it. */
function authParam(header: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|[\\s,])${name}=(?:"([^"]*)"|([^\\s,]+))`, 'i').exec(header);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** A short digest of a token: enough to recognise it again, useless to anyone who reads it. */
function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 22);
}
