// OpenTelemetry tracing: started with `node --import ./servers/otel-register.mjs`,
// which installs the http and express instrumentations before express loads.
import express from 'express';

const app = express();
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: `User ${req.params.id}` });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
