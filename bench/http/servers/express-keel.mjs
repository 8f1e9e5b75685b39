// Full Keel with default options: recording under the route template, the
// four endpoints mounted, Server-Timing, request context, load shedding and
// the runtime sampler (on by default).
import { instrument } from '@keel/express';
import express from 'express';

const app = express();
// KEEL_OPTIONS: only for run.mjs's ABLATE mode (one feature off at a time).
instrument(app, JSON.parse(process.env.KEEL_OPTIONS || '{}'));
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: `User ${req.params.id}` });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
