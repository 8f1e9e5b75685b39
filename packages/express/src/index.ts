export type { ResponseCacheOptions } from '@keel/core';
export { instrument, type KeelExpress, type KeelExpressOptions } from './instrument.js';
export { responseCache } from './response-cache.js';
export { mountTemplate, routeTemplate } from './route-template.js';
