// express-keel.mjs on an earlier build: the copy snapshot.mjs made in
// KEEL_BEFORE (run.mjs's BEFORE sets it). Only the import differs.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';

const { instrument } = await import(
  pathToFileURL(join(process.env.KEEL_BEFORE, 'express/dist/index.js')).href
);
const app = express();
instrument(app, JSON.parse(process.env.KEEL_OPTIONS || '{}'));
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: `User ${req.params.id}` });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
