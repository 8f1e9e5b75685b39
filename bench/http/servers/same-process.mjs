// One process, two apps of FRAMEWORK with the same route: bare on PORT, with
// Keel (default options) on PORT + 1. Both share the process's JIT and heap
// state, so what differs between them is Keel's own work per request.
import { instrument } from '@keel/express';
import { keelFastify } from '@keel/fastify';
import express from 'express';
import Fastify from 'fastify';

const port = Number(process.env.PORT);

async function fastifyApp(withKeel) {
  const app = Fastify();
  if (withKeel) await app.register(keelFastify);
  app.get('/users/:id', async (req) => ({ id: req.params.id, name: `User ${req.params.id}` }));
  return app;
}

function expressApp(withKeel) {
  const app = express();
  if (withKeel) instrument(app);
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id, name: `User ${req.params.id}` });
  });
  return app;
}

if (process.env.FRAMEWORK === 'fastify') {
  await (await fastifyApp(false)).listen({ port, host: '127.0.0.1' });
  await (await fastifyApp(true)).listen({ port: port + 1, host: '127.0.0.1' });
} else {
  expressApp(false).listen(port, '127.0.0.1');
  expressApp(true).listen(port + 1, '127.0.0.1');
}
