'use strict';
/**
 * Shared by the climcat nodes: the in-process climcat API that the ingestor
 * passes in Node-RED's settings (`settings.climcat`, see
 * apps/ingestor/src/node-red/climcat-node-api.ts), how a node reads a file
 * reference from a message, and how it reports a failure.
 */
const path = require('node:path');

const API_VERSION = 1;

/** The climcat API, or an error that says why the nodes cannot work here. */
function climcatApi(RED) {
  const api = RED.settings.climcat;
  if (!api || api.version !== API_VERSION) {
    throw new Error(
      'climcat nodes run only inside the climcat ingestor (settings.climcat is missing or of another version)',
    );
  }
  return api;
}

function invalid(message) {
  const error = new Error(message);
  error.name = 'InvalidError';
  error.kind = 'invalid';
  return error;
}

/**
 * A file reference `{ root, path }` from a message:
 * `msg.payload` = `{ root, path }` (root defaults to `defaultRoot`), a path
 * relative to `defaultRoot`, or an absolute file name (mapped to the
 * configured root that holds it); without a payload, `msg.filename`.
 */
function fileRef(api, msg, defaultRoot) {
  const root = defaultRoot || api.defaultRoot;
  let value = msg.payload;
  if ((value === undefined || value === null || value === '') && typeof msg.filename === 'string') {
    value = msg.filename;
  }
  if (typeof value === 'string') {
    return path.isAbsolute(value) ? api.locate(value) : { root, path: value };
  }
  if (value && typeof value === 'object' && typeof value.path === 'string') {
    if (path.isAbsolute(value.path) && value.root === undefined) return api.locate(value.path);
    return { root: typeof value.root === 'string' && value.root ? value.root : root, path: value.path };
  }
  throw invalid('msg.payload must be { root, path }, a path relative to the root, or an absolute file name');
}

/** The typed reason of a failure: climcat domain errors carry `kind` (and NetCDF errors `code`). */
function reasonOf(error) {
  const reason = {
    kind: (error && error.kind) || 'internal',
    message: (error && error.message) || String(error),
  };
  if (error && typeof error.code === 'string') reason.code = error.code;
  return reason;
}

function shorten(text, max = 40) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Reports a failure the Node-RED way: `done(error)` raises it to Catch nodes
 * with this message, which also carries `msg.reason` ({ kind, code?, message }).
 */
function fail(node, msg, done, error) {
  const reason = reasonOf(error);
  msg.reason = reason;
  node.status({ fill: 'red', shape: 'ring', text: shorten(reason.message) });
  done(error instanceof Error ? error : new Error(reason.message));
}

/** A number from node config, or the default when empty or not a positive number. */
function positive(value, fallback) {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

module.exports = { climcatApi, fileRef, reasonOf, fail, shorten, positive, invalid };
