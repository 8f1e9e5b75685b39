export { instrument, type KeelExpress, type KeelExpressOptions } from './instrument.js';
export { type ResponseCacheOptions, responseCache } from './response-cache.js';
export { mountTemplate, routeTemplate } from './route-template.js';
