'use strict';
const fs = require('node:fs');
const { climcatApi, fail, positive, shorten } = require('../lib/climcat');

module.exports = function (RED) {
  /**
   * Holds a file event until the file is completely written: sends the message
   * on once two stats `interval` ms apart agree on size and mtime, with
   * `msg.payload` = `{ root, path }` relative to the configured climcat root
   * that holds it. Repeated events for a file being written collapse into one
   * message; files removed meanwhile and non-files are dropped.
   */
  function FileReadyNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const intervalMs = positive(config.interval, 1000);
    const timeoutMs = positive(config.timeout, 600) * 1000;
    /** filename → { timer, size, mtimeMs, since } */
    const pending = new Map();

    const showCount = () =>
      node.status(pending.size ? { fill: 'blue', shape: 'ring', text: `settling ${pending.size}` } : {});

    node.on('input', function (msg, send, done) {
      const filename =
        typeof msg.filename === 'string' ? msg.filename : typeof msg.payload === 'string' ? msg.payload : '';
      if (!filename || msg.event === 'remove' || (msg.type !== undefined && msg.type !== 'file')) {
        done();
        return;
      }
      if (pending.has(filename)) {
        done(); // already settling: the first message goes on
        return;
      }
      const entry = { timer: undefined, size: -1, mtimeMs: -1, since: Date.now() };
      const forget = () => {
        clearTimeout(entry.timer);
        pending.delete(filename);
        showCount();
      };
      const check = () => {
        fs.stat(filename, (error, stat) => {
          if (!pending.has(filename)) return; // node closed meanwhile
          if ((error && error.code === 'ENOENT') || (stat && !stat.isFile())) {
            forget();
            done();
            return;
          }
          if (error) {
            forget();
            fail(node, msg, done, error);
            return;
          }
          if (stat.size === entry.size && stat.mtimeMs === entry.mtimeMs) {
            forget();
            try {
              msg.payload = climcatApi(RED).locate(filename);
            } catch (locateError) {
              fail(node, msg, done, locateError);
              return;
            }
            msg.size = stat.size;
            node.status({ fill: 'green', shape: 'dot', text: shorten(msg.payload.path) });
            send(msg);
            done();
            return;
          }
          if (Date.now() - entry.since > timeoutMs) {
            forget();
            fail(node, msg, done, new Error(`${filename} still changes after ${timeoutMs / 1000} s`));
            return;
          }
          entry.size = stat.size;
          entry.mtimeMs = stat.mtimeMs;
          entry.timer = setTimeout(check, intervalMs);
        });
      };
      pending.set(filename, entry);
      showCount();
      entry.timer = setTimeout(check, intervalMs);
    });

    node.on('close', function () {
      for (const entry of pending.values()) clearTimeout(entry.timer);
      pending.clear();
      node.status({});
    });
  }
  RED.nodes.registerType('climcat file ready', FileReadyNode);
};
