export { keelFastify } from './keel-fastify.js';
export type {
  KeelFastifyOptions,
  KeelFastifyShutdownOptions,
  KeelRouteCacheOptions,
  KeelRouteOptions,
} from './options.js';
