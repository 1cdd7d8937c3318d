'use strict';
const http = require('node:http');
const express = require('express');

const app = express();
app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
http
  .createServer({ maxHeaderSize: 16384, headersTimeout: 10000, requestTimeout: 30000 }, app)
  .listen(Number(process.env.PORT));
