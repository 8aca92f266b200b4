// The re-authorization guard both HTTP drivers share, at the unit level: which challenge counts as "already
// answered", and what the proxy leaves alone. Against real servers: test/integration/oauth-reauthorization.spec.ts.
import { REFUSAL_MEMORY_MS, ReauthGuard, RepeatedAuthChallengeError, type ReauthSession } from '../../lib/transports/reauth-guard';

class Provider {
  verifiers: string[] = [];
  tokens: string[] = [];
  readonly label = 'the user';
  get redirectUrl(): string {
    return `http://localhost/${this.label}`;
  }
  saveCodeVerifier(v: string): void {
    this.verifiers.push(v);
  }
  saveTokens(t: { access_token: string }): void {
    this.tokens.push(t.access_token);
  }
  whoAmI(): string {
    return this.label;
  }
}

const SCOPE_CHALLENGE = 'Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="http://a/prm"';

/** One round of the interactive flow: the refusal, the redirect (a new verifier), the code exchange. */
async function authorize(
  guard: ReauthGuard,
  session: ReauthSession,
  provider: Provider,
  presented: string | undefined,
  answer: string,
  challenge = SCOPE_CHALLENGE,
  scheme = 'Bearer',
): Promise<void> {
  session.note(presented === undefined ? undefined : `${scheme} ${presented}`, 403, challenge);
  await provider.saveCodeVerifier(`verifier-for-${answer}`);
  await guard.exchange(async () => provider.saveTokens({ access_token: answer }));
}

it('refuses a second authorization for a challenge the token from the first one still gets, before the saved verifier is replaced', async () => {
  const guard = new ReauthGuard();
  const user = new Provider();
  // Two sessions: the second, created after the authorization, meets the same refusal.
  const [first, second] = [guard.session(), guard.session()];
  await authorize(guard, first, guard.wrap(user, first), 'token-0', 'token-1');
  second.note('Bearer token-1', 403, SCOPE_CHALLENGE);
  const provider = guard.wrap(user, second);
  const refused = Promise.resolve(provider.saveCodeVerifier('another'));
  await expect(refused).rejects.toBeInstanceOf(RepeatedAuthChallengeError);
  await expect(refused).rejects.toThrow('scope "mcp:admin"');
  await expect(refused).rejects.not.toThrow(/token-1/);
  expect(user.verifiers).toEqual(['verifier-for-token-1']);
});

it('lets through: another challenge (a step-up), another token, a 401, and a refresh that is not the user answering', async () => {
  const guard = new ReauthGuard();
  const user = new Provider();
  const session = guard.session();
  const provider = guard.wrap(user, session);
  await authorize(guard, session, provider, 'token-0', 'token-1');
  // The same challenge to a token the user's answer did not produce (another session's, an older one).
  await authorize(guard, session, provider, 'token-0', 'token-2');
  // A step-up: another scope is another challenge.
  await authorize(guard, session, provider, 'token-2', 'token-3', 'Bearer error="insufficient_scope", scope="mcp:admin mcp:write"');
  // 401s are not insufficient_scope.
  session.note('Bearer token-3', 401, 'Bearer scope="mcp:admin"');
  await provider.saveCodeVerifier('after-401');
  // A token saved outside finishAuth (a refresh) is not recorded as an answer.
  session.note('Bearer token-3', 403, SCOPE_CHALLENGE);
  await provider.saveCodeVerifier('v');
  await provider.saveTokens({ access_token: 'refreshed' });
  session.note('Bearer refreshed', 403, SCOPE_CHALLENGE);
  await provider.saveCodeVerifier('after-refresh');
  expect(user.verifiers).toHaveLength(6);
});

it('reads error= exactly (error_description is another parameter) and unquoted values', async () => {
  const guard = new ReauthGuard();
  const session = guard.session();
  const provider = guard.wrap(new Provider(), session);
  const described = 'Bearer error_description="insufficient_scope", scope="x"';
  await authorize(guard, session, provider, 'a', 'b', described);
  session.note('Bearer b', 403, described);
  await provider.saveCodeVerifier('not-an-insufficient-scope-challenge');
  const unquoted = 'Bearer error=insufficient_scope, scope=x';
  await authorize(guard, session, provider, 'b', 'c', unquoted);
  session.note('Bearer c', 403, unquoted);
  await expect(Promise.resolve(provider.saveCodeVerifier('again'))).rejects.toBeInstanceOf(RepeatedAuthChallengeError);
});

it("the proxy is the user's provider everywhere else: getters, methods and `in` on the user's object", () => {
  const user = new Provider();
  const provider = new ReauthGuard().wrap(user);
  expect(provider.redirectUrl).toBe('http://localhost/the user');
  expect(provider.whoAmI()).toBe('the user');
  expect('saveTokens' in provider && 'redirectUrl' in provider).toBe(true);
  expect('tokens' in provider).toBe(true);
  expect('clientMetadata' in provider).toBe(false);
});

// Found in review: what another session noted meanwhile must decide nothing for this one.
describe('each session judges the challenge its own request got', () => {
  const WRITE = 'Bearer error="insufficient_scope", scope="mcp:basic mcp:write", resource_metadata="http://a/prm"';
  const ADMIN = 'Bearer error="insufficient_scope", scope="mcp:basic mcp:admin", resource_metadata="http://a/prm"';

  /** The user answered WRITE once, on a first session: token-2. */
  async function answered(): Promise<{ guard: ReauthGuard; user: Provider }> {
    const guard = new ReauthGuard();
    const user = new Provider();
    const first = guard.session();
    await authorize(guard, first, guard.wrap(user, first), 'token-1', 'token-2', WRITE);
    return { guard, user };
  }

  it("a legitimate step-up on session A is not refused for session B's repeat noted meanwhile", async () => {
    const { guard, user } = await answered();
    const [a, b] = [guard.session(), guard.session()];
    a.note('Bearer token-2', 403, ADMIN); // a new challenge: legitimate
    b.note('Bearer token-2', 403, WRITE); // a real repeat, while A runs its discovery
    await expect(Promise.resolve(guard.wrap(user, a).saveCodeVerifier('for-admin'))).resolves.toBeUndefined();
    await expect(Promise.resolve(guard.wrap(user, b).saveCodeVerifier('again'))).rejects.toBeInstanceOf(RepeatedAuthChallengeError);
  });

  it("a repeat is stopped although another session noted a 401 in between", async () => {
    const { guard, user } = await answered();
    const [a, b] = [guard.session(), guard.session()];
    a.note('Bearer token-2', 403, WRITE);
    b.note(undefined, 401, 'Bearer resource_metadata="http://a/prm"');
    await expect(Promise.resolve(guard.wrap(user, a).saveCodeVerifier('again'))).rejects.toBeInstanceOf(RepeatedAuthChallengeError);
    expect(user.verifiers).toEqual(['verifier-for-token-2']);
  });

  it('a challenge that varies only in error_description is the same challenge', async () => {
    const { guard, user } = await answered();
    const a = guard.session();
    a.note('Bearer token-2', 403, `${WRITE}, error_description="request 8f3a needs write"`);
    await expect(Promise.resolve(guard.wrap(user, a).saveCodeVerifier('again'))).rejects.toBeInstanceOf(RepeatedAuthChallengeError);
  });
});

it('recognises DPoP-bound tokens as it does bearer ones', async () => {
  const guard = new ReauthGuard();
  const user = new Provider();
  const s = guard.session();
  await authorize(guard, s, guard.wrap(user, s), 'token-1', 'token-2', SCOPE_CHALLENGE, 'DPoP');
  s.note('DPoP token-2', 403, SCOPE_CHALLENGE);
  await expect(Promise.resolve(guard.wrap(user, s).saveCodeVerifier('again'))).rejects.toBeInstanceOf(RepeatedAuthChallengeError);
});

it(`lets the user be asked again once a refusal is ${REFUSAL_MEMORY_MS / 60_000} minutes old (their grant may have changed)`, async () => {
  const guard = new ReauthGuard();
  const user = new Provider();
  const s = guard.session();
  await authorize(guard, s, guard.wrap(user, s), 'token-1', 'token-2');
  const now = Date.now();
  const clock = jest.spyOn(Date, 'now');
  try {
    clock.mockReturnValue(now + REFUSAL_MEMORY_MS - 1000);
    s.note('Bearer token-2', 403, SCOPE_CHALLENGE);
    await expect(Promise.resolve(guard.wrap(user, s).saveCodeVerifier('too-soon'))).rejects.toBeInstanceOf(RepeatedAuthChallengeError);
    clock.mockReturnValue(now + REFUSAL_MEMORY_MS + 1000);
    s.note('Bearer token-2', 403, SCOPE_CHALLENGE);
    await expect(Promise.resolve(guard.wrap(user, s).saveCodeVerifier('later'))).resolves.toBeUndefined();
  } finally {
    clock.mockRestore();
  }
});

it("passes every argument on to the user's provider (the v2 client's { issuer } context keys stored tokens)", async () => {
  const seen: unknown[][] = [];
  const provider = new ReauthGuard().wrap({
    saveCodeVerifier: (...args: unknown[]) => void seen.push(['verifier', ...args]),
    saveTokens: (...args: unknown[]) => void seen.push(['tokens', ...args]),
  });
  await provider.saveCodeVerifier('v', { issuer: 'https://as' } as never);
  await provider.saveTokens({ access_token: 't' }, { issuer: 'https://as' } as never);
  expect(seen).toEqual([
    ['verifier', 'v', { issuer: 'https://as' }],
    ['tokens', { access_token: 't' }, { issuer: 'https://as' }],
  ]);
});
