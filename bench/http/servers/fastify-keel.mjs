// Full Keel with default options: recording under the route template, the
// four endpoints mounted, Server-Timing, request context, load shedding and
// the runtime sampler (on by default).
import { keelFastify } from '@keel/fastify';
import Fastify from 'fastify';

const app = Fastify();
// KEEL_OPTIONS: only for run.mjs's ABLATE mode (one feature off at a time).
await app.register(keelFastify, JSON.parse(process.env.KEEL_OPTIONS || '{}'));
app.get('/users/:id', async (req) => ({ id: req.params.id, name: `User ${req.params.id}` }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
