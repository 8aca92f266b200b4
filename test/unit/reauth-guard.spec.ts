// The re-authorization guard both HTTP drivers share, at the unit level: which challenge counts as "already
// answered", and what the proxy leaves alone. Against real servers: test/integration/oauth-reauthorization.spec.ts.
import { ReauthGuard, RepeatedAuthChallengeError } from '../../lib/transports/reauth-guard';

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
async function authorize(guard: ReauthGuard, provider: Provider, presented: string | undefined, answer: string, challenge = SCOPE_CHALLENGE): Promise<void> {
  guard.note(presented === undefined ? undefined : `Bearer ${presented}`, 403, challenge);
  await provider.saveCodeVerifier(`verifier-for-${answer}`);
  await guard.exchange(async () => provider.saveTokens({ access_token: answer }));
}

it('refuses a second authorization for a challenge the token from the first one still gets, before the saved verifier is replaced', async () => {
  const guard = new ReauthGuard();
  const user = new Provider();
  const provider = guard.wrap(user);
  await authorize(guard, provider as Provider, 'token-0', 'token-1');
  guard.note('Bearer token-1', 403, SCOPE_CHALLENGE);
  const refused = Promise.resolve(provider.saveCodeVerifier('another'));
  await expect(refused).rejects.toBeInstanceOf(RepeatedAuthChallengeError);
  await expect(refused).rejects.toThrow('scope "mcp:admin"');
  await expect(refused).rejects.not.toThrow(/token-1/);
  expect(user.verifiers).toEqual(['verifier-for-token-1']);
});

it('lets through: another challenge (a step-up), another token, a 401, and a refresh that is not the user answering', async () => {
  const guard = new ReauthGuard();
  const user = new Provider();
  const provider = guard.wrap(user) as Provider;
  await authorize(guard, provider, 'token-0', 'token-1');
  // The same challenge to a token the user's answer did not produce (another session's, an older one).
  await authorize(guard, provider, 'token-0', 'token-2');
  // A step-up: another scope is another challenge.
  await authorize(guard, provider, 'token-2', 'token-3', 'Bearer error="insufficient_scope", scope="mcp:admin mcp:write"');
  // 401s are not insufficient_scope.
  guard.note('Bearer token-3', 401, 'Bearer scope="mcp:admin"');
  await provider.saveCodeVerifier('after-401');
  // A token saved outside finishAuth (a refresh) is not recorded as an answer.
  guard.note('Bearer token-3', 403, SCOPE_CHALLENGE);
  await provider.saveCodeVerifier('v');
  await provider.saveTokens({ access_token: 'refreshed' });
  guard.note('Bearer refreshed', 403, SCOPE_CHALLENGE);
  await provider.saveCodeVerifier('after-refresh');
  expect(user.verifiers).toHaveLength(6);
});

it('reads error= exactly (error_description is another parameter) and unquoted values', async () => {
  const guard = new ReauthGuard();
  const provider = guard.wrap(new Provider()) as Provider;
  const described = 'Bearer error_description="insufficient_scope", scope="x"';
  await authorize(guard, provider, 'a', 'b', described);
  guard.note('Bearer b', 403, described);
  await provider.saveCodeVerifier('not-an-insufficient-scope-challenge');
  const unquoted = 'Bearer error=insufficient_scope, scope=x';
  await authorize(guard, provider, 'b', 'c', unquoted);
  guard.note('Bearer c', 403, unquoted);
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
