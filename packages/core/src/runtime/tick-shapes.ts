import { createHook } from 'node:async_hooks';

/**
 * One of Node's own `process.nextTick` objects, kept for the life of the process.
 *
 * Why: `process.nextTick` builds each tick object with an object literal whose
 * first keys are computed (`{ [async_id_symbol]: ..., [trigger_async_id_symbol]: ... }`).
 * V8 remembers the hidden class ("map") seen at a computed key only weakly,
 * and that feedback is monomorphic or megamorphic, nothing between. If a full
 * GC runs while no tick object is alive, the maps die, the next tick makes new
 * ones, the feedback turns megamorphic for good, and from then on every tick
 * object is built in V8's runtime instead of in optimized code: about 0.3 µs
 * per tick, and an HTTP request on Fastify schedules nine. Startup is when
 * that GC tends to happen, so whether a process runs fast or slow was a coin
 * toss made at boot (docs/decisions/0011-tick-object-shapes.md). A live tick
 * object holds its map, and through the maps' back pointers the whole chain,
 * so the feedback never sees a second map.
 */
let held: object | undefined;
let scheduled = false;

/**
 * Keeps one tick object alive. Idempotent; costs one small object per process.
 *
 * The object is caught by an `init` hook that is on only while one
 * `process.nextTick` is scheduled: disabling the last hook turns Node's
 * callback trampoline and promise hooks back off. `executionAsyncResource()`
 * inside a tick would be simpler, but it tells Node to route every native
 * callback through that trampoline for the rest of the process.
 */
export function holdTickObjectShapes(): void {
  if (scheduled) return;
  scheduled = true;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject' && held === undefined) held = resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(noop);
  } finally {
    hook.disable();
  }
}

function noop(): void {}
