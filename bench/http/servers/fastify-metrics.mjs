// fastify-metrics with its defaults: route-template labels (method, route,
// status_code) in a histogram and a summary, default process metrics, /metrics.
import Fastify from 'fastify';
import metrics from 'fastify-metrics';

const app = Fastify();
await app.register(metrics, { endpoint: '/metrics' });
app.get('/users/:id', async (req) => ({ id: req.params.id, name: `User ${req.params.id}` }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
