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
  saveCodeVerifier(codeVerifier: string, ...rest: unknown[]): void | Promise<void>;
  saveTokens(tokens: { access_token: string }, ...rest: unknown[]): void | Promise<void>;
}

/** The last 401/403 challenge from the MCP endpoint itself, and which token the refused request carried. */
interface EndpointChallenge {
  at: number;
  /**
   * What tells one challenge from another: the status and the parameters that ask for something (error,
   * scope, resource metadata) — not the whole header, which a server may vary per request (a request id
   * in error_description would make every repeat look new).
   */
  key: string;
  insufficientScope: boolean;
  scope?: string;
  /** A hash of the access token the refused request carried (never the token itself). */
  presented?: string;
}

/** How long a noted endpoint challenge counts as the one the OAuth flow is answering. */
const CHALLENGE_MEMORY_MS = 30_000;

/**
 * How long a refusal holds: after this the user may be asked once more for the same challenge (their grant
 * may have been changed meanwhile), so the guard bounds a loop to one authorization per challenge in this
 * time instead of ending authorization for that scope for the driver's whole life.
 */
export const REFUSAL_MEMORY_MS = 10 * 60_000;

/**
 * What one session (one transport) of the driver has seen: its own last challenge. Each transport's OAuth
 * flow answers the challenge its own request got, so a challenge another session noted meanwhile (another
 * partition's 401, another scope) decides nothing for it.
 */
export class ReauthSession {
  /** @internal */ challenge: EndpointChallenge | undefined;

  /** Notes a 401/403 of the MCP endpoint and the `Authorization` the refused request carried. */
  note(authorization: string | null | undefined, status: number, wwwAuthenticate: string | null | undefined): void {
    if (status !== 401 && status !== 403) return;
    const header = wwwAuthenticate ?? '';
    const error = authParam(header, 'error');
    const scope = authParam(header, 'scope');
    // Bearer, or a DPoP-bound token (the v2 client's provider.dpop): the token is what follows the scheme.
    const token = /^(?:Bearer|DPoP)\s+(.+)$/i.exec(authorization ?? '')?.[1];
    this.challenge = {
      at: Date.now(),
      key: `${status} ${error ?? ''} ${scope ?? ''} ${authParam(header, 'resource_metadata') ?? ''}`,
      insufficientScope: status === 403 && error === 'insufficient_scope',
      scope,
      presented: token === undefined ? undefined : tokenHash(token),
    };
  }
}

/**
 * The guard against sending the user to authorize, once more, a challenge they already answered — for one
 * driver, whichever SDK runs its OAuth flow.
 *
 * Every pool session is its own transport, and both SDKs keep their "403 after step-up" limit inside one
 * transport: a session created after an authorization starts the same authorization again, for ever (the
 * conformance scenario `auth/scope-retry-limit`). The guard sees every session: each transport gets a
 * {@link ReauthSession} that its fetch reports the endpoint's challenges to, and the provider seen through
 * {@link wrap} for that session; the driver's `finishAuth` runs its code exchange inside {@link exchange}.
 * When the challenge that starts a session's new authorization is one the user already answered (within
 * {@link REFUSAL_MEMORY_MS}), and the refused request carried the very token that answer produced, it throws
 * {@link RepeatedAuthChallengeError} before a new PKCE verifier replaces the saved one.
 */
export class ReauthGuard {
  /** The insufficient_scope challenge an interactive authorization was started for (until its code is exchanged). */
  private authorizingFor: string | undefined;
  /** Code exchanges (finishAuth) running: the tokens saved now are the user's answer. */
  private exchanging = 0;
  /** insufficient_scope challenge key -> the access token (a hash) the user's authorization for it produced, and when. */
  private readonly authorizedFor = new Map<string, { token: string; at: number }>();

  /** A new session's view (one per transport). */
  session(): ReauthSession {
    return new ReauthSession();
  }

  /** Runs the code exchange of the user's authorization (the tokens it saves are their answer). */
  async exchange<T>(run: () => Promise<T>): Promise<T> {
    this.exchanging++;
    try {
      return await run();
    } finally {
      this.exchanging--;
    }
  }

  /**
   * The user's provider, seen through a proxy that watches the two steps of an interactive authorization:
   * for one session (its transport's OAuth flow), or with no session for the driver's own code exchange.
   */
  wrap<P extends object>(provider: P, session?: ReauthSession): P {
    const target = provider as P & GuardedMethods;
    const saveCodeVerifier = async (codeVerifier: string, ...rest: unknown[]): Promise<void> => {
      const c = session?.challenge;
      const current = c && c.insufficientScope && Date.now() - c.at < CHALLENGE_MEMORY_MS ? c : undefined;
      const answered = current && this.authorizedFor.get(current.key);
      if (answered && Date.now() - answered.at >= REFUSAL_MEMORY_MS) this.authorizedFor.delete(current.key);
      else if (answered && current.presented !== undefined && answered.token === current.presented) throw new RepeatedAuthChallengeError(current.scope);
      this.authorizingFor = current?.key;
      await target.saveCodeVerifier(codeVerifier, ...rest);
    };
    // Every argument goes on: the v2 client passes a context ({ issuer }) that providers key tokens by.
    const saveTokens = async (tokens: { access_token: string }, ...rest: unknown[]): Promise<void> => {
      await target.saveTokens(tokens, ...rest);
      if (this.exchanging === 0) return; // a refresh or a non-interactive grant: not the user's answer
      if (this.authorizingFor !== undefined) this.authorizedFor.set(this.authorizingFor, { token: tokenHash(tokens.access_token), at: Date.now() });
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
