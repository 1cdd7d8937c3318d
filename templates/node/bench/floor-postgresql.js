'use strict';
const fs = require('node:fs');
const http = require('node:http');
const express = require('express');
const { Pool } = require('pg');

const env = process.env;
const pool = new Pool({
  host: env.DB_HOST,
  port: Number(env.DB_PORT),
  database: env.DB_NAME,
  user: env.DB_USER,
  password: fs.readFileSync(env.DB_PASSWORD_FILE, 'utf8').trim(),
});
const app = express();
app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
app.get('/items/:id', async (req, res) => {
  const { rows } = await pool.query('SELECT id, name FROM items WHERE id = $1', [Number(req.params.id)]);
  if (rows.length === 0) return res.status(404).json({});
  return res.json(rows[0]);
});
pool
  .query('CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text NOT NULL)')
  .then(() => pool.query("INSERT INTO items (name) SELECT 'floor' WHERE NOT EXISTS (SELECT 1 FROM items)"))
  .then(() =>
    http
      .createServer({ maxHeaderSize: 16384, headersTimeout: 10000, requestTimeout: 30000 }, app)
      .listen(Number(env.PORT)),
  );
