// Baseline: Express 5 with nothing but the route.
import express from 'express';

const app = express();
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: `User ${req.params.id}` });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
