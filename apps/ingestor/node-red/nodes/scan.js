'use strict';
const { climcatApi, fail, shorten } = require('../lib/climcat');

module.exports = function (RED) {
  /** Starts a scan of a root (or a prefix of it), as POST /ingest/v1/scans does; sends `msg.scanId` on. */
  function ScanNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.root = config.root || '';
    node.prefix = config.prefix || '';

    node.on('input', function (msg, send, done) {
      let api;
      try {
        api = climcatApi(RED);
      } catch (error) {
        fail(node, msg, done, error);
        return;
      }
      const p = msg.payload && typeof msg.payload === 'object' ? msg.payload : {};
      const root = msg.root || p.root || node.root || api.defaultRoot;
      const prefix = msg.prefix !== undefined ? msg.prefix : p.prefix !== undefined ? p.prefix : node.prefix;
      api.startScan(String(root), String(prefix || '')).then(
        (scan) => {
          msg.scanId = scan.id;
          msg.payload = scan;
          node.status({ fill: 'green', shape: 'dot', text: shorten(`${root}/${prefix || ''}`) });
          send(msg);
          done();
        },
        (error) => fail(node, msg, done, error),
      );
    });
  }
  RED.nodes.registerType('climcat scan', ScanNode);
};
