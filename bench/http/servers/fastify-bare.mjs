// Baseline: Fastify 5 with nothing but the route (no response schema, so the
// body goes through JSON.stringify, as in the Express variants).
import Fastify from 'fastify';

const app = Fastify();
app.get('/users/:id', async (req) => ({ id: req.params.id, name: `User ${req.params.id}` }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
