import type * as Undici from 'undici';

let loaded: typeof Undici | undefined;

/**
 * undici, loaded on first use. Loading the `undici` package installs its own Agent as the process's global
 * dispatcher when none is installed yet, which silently moves every `fetch` of the process onto it. So the
 * library loads it only when a native HTTP driver first needs a connection pool, and first makes Node set up
 * its own global dispatcher (touching a lazy fetch global does that): undici then finds one and leaves it.
 */
export function loadUndici(): typeof Undici {
  if (loaded) return loaded;
  void globalThis.Headers;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded = require('undici') as typeof Undici;
  return loaded;
}
