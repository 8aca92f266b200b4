/**
 * One identity's standing with the server (the shared sessions' or a partition's): a refusal of one
 * identity — its credentials, or an error the server answered its initialize with — blocks only that
 * identity's creations, never another's, until its next caller asks again.
 */
export class AuthGate {
  /** An auth failure at creation stops background creation until a caller asks again. */
  blocked = false;
  /**
   * The OAuth provider is waiting for the user to authorize: every caller gets this error at once until
   * finishAuth(), instead of starting a new authorization (a new PKCE verifier) each time.
   */
  pending: unknown;
  /** The last creation error of this identity since its last success (auth refusals included). */
  lastFailure: unknown;

  /** The server refused this identity (its credentials, or its initialize) while creating a session. */
  refused(error: unknown, waitsForUser: boolean): void {
    this.blocked = true;
    this.lastFailure = error;
    if (waitsForUser) this.pending = error;
  }

  /** A caller asking again is the signal to try the credentials again. */
  callerAsks(): void {
    this.blocked = false;
  }

  created(): void {
    this.blocked = false;
    this.lastFailure = undefined;
  }

  /** The user authorized (finishAuth): try again. */
  authorized(): void {
    this.pending = undefined;
    this.blocked = false;
  }
}
