import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Optimiser } from '../optimise/optimiser.js';
import type { EndpointName } from './endpoint-options.js';
import { createEndpoints, type EndpointHandler, type EndpointSource } from './endpoints.js';
import { optimiseEndpoints } from './optimise-endpoints.js';

type Router = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Every endpoint one instance answers: what `keel.handlers`, `keel.paths`, `keel.handle` and the admin port serve. */
export interface InstanceEndpoints {
  readonly handlers: Readonly<Record<EndpointName, EndpointHandler>>;
  readonly paths: Readonly<Record<EndpointName, string>>;
  /** Answers Keel's paths on the app's port (`true`), or leaves the request to the app (`false`). */
  readonly handle: Router;
  /** The same on the admin port, whose callers count as authorised for `endpoints.details`. */
  readonly handleAdmin: Router;
}

/**
 * The endpoints (`createEndpoints`) plus, when the optimisation loop is on,
 * its admin endpoints (`/keel/optimise`, `/keel/traffic`), which answer
 * beside the others on the app's port and the admin port.
 */
export function instanceEndpoints(
  source: EndpointSource,
  optimiser: Optimiser | undefined,
): InstanceEndpoints {
  const endpoints = createEndpoints(source);
  const handlers = Object.freeze(endpoints.handlers);
  const admin =
    optimiser && optimiseEndpoints(optimiser, source.config.endpoints, (w, e) => source.reportError(w, e));
  if (!admin)
    return { handlers, paths: endpoints.paths, handle: endpoints.handle, handleAdmin: endpoints.handleAdmin };
  return {
    handlers,
    paths: endpoints.paths,
    handle: (req, res) => endpoints.handle(req, res) || admin.handle(req, res),
    handleAdmin: (req, res) => endpoints.handleAdmin(req, res) || admin.handle(req, res),
  };
}
