// What can be read off any thrown value, from any realm: shared by the drivers and the exporters.

/** The errno-like code of a Node/undici network error (`cause.code`), if any. */
export function networkCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** An Error from any realm (instanceof Error fails across vm contexts, e.g. Node internals under Jest). */
export function isErrorLike(e: unknown): e is Error {
  return typeof e === 'object' && e !== null && typeof (e as Error).message === 'string' && typeof (e as Error).name === 'string';
}
