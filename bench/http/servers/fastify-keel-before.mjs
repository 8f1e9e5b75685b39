// fastify-keel.mjs on an earlier build: the copy snapshot.mjs made in
// KEEL_BEFORE (run.mjs's BEFORE sets it). Only the import differs.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';

const { keelFastify } = await import(
  pathToFileURL(join(process.env.KEEL_BEFORE, 'fastify/dist/index.js')).href
);
const app = Fastify();
await app.register(keelFastify, JSON.parse(process.env.KEEL_OPTIONS || '{}'));
app.get('/users/:id', async (req) => ({ id: req.params.id, name: `User ${req.params.id}` }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
