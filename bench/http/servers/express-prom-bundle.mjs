// express-prom-bundle with method, path and status labels; the path label is
// the route template (its README's "return express route definition"), not
// the raw URL, so /users/1 and /users/2 share one series, as in Keel.
import express from 'express';
import promBundle from 'express-prom-bundle';

const app = express();
app.use(
  promBundle({
    includeMethod: true,
    includePath: true,
    normalizePath: (req) => (req.route ? req.baseUrl + req.route.path : '__unmatched__'),
  }),
);
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: `User ${req.params.id}` });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
