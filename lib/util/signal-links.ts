/**
 * Links a caller's AbortSignal to the per-request AbortControllers made for it, with one listener per
 * caller signal however many requests share it.
 *
 * Why not hand the caller's signal to the SDK: the SDK adds an abort listener to the signal it is given and
 * never removes it, so a long-lived signal would collect one listener per call. Why not one listener per
 * request: a signal shared by many concurrent calls (a request-scoped signal fanned out) would still cross
 * Node's MaxListeners warning. So each caller signal gets a single listener that aborts every request
 * currently linked to it, removed when the last one unlinks.
 */
const links = new WeakMap<AbortSignal, { controllers: Set<AbortController>; onAbort: () => void }>();

/** A fresh controller that aborts when `signal` does; call `unlink` when the request settles. */
export function linkSignal(signal: AbortSignal): { controller: AbortController; unlink: () => void } {
  const controller = new AbortController();
  let entry = links.get(signal);
  if (!entry) {
    const controllers = new Set<AbortController>();
    const onAbort = () => {
      for (const c of controllers) c.abort(signal.reason);
    };
    entry = { controllers, onAbort };
    links.set(signal, entry);
    signal.addEventListener('abort', onAbort, { once: true });
  }
  const { controllers, onAbort } = entry;
  controllers.add(controller);
  return {
    controller,
    unlink: () => {
      controllers.delete(controller);
      if (controllers.size === 0 && links.get(signal) === entry) {
        links.delete(signal);
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
