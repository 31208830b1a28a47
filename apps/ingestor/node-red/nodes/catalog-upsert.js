'use strict';
const { climcatApi, fileRef, fail, shorten } = require('../lib/climcat');

module.exports = function (RED) {
  /**
   * Queues a catalog upsert: a file to read (`{ root, path }`, a relative or an
   * absolute path) or a ready record (`{ dataset, files }`), as
   * POST /ingest/v1/records does. Sends `msg.jobId` on; the job runs in the
   * ingestor's `records` queue with its retries.
   */
  function CatalogUpsertNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.root = config.root || '';

    node.on('input', function (msg, send, done) {
      let api;
      let record;
      try {
        api = climcatApi(RED);
        const p = msg.payload;
        record =
          p && typeof p === 'object' && (p.dataset !== undefined || p.files !== undefined)
            ? p
            : fileRef(api, msg, node.root);
      } catch (error) {
        fail(node, msg, done, error);
        return;
      }
      api.submitRecord(record).then(
        ({ jobId }) => {
          if (record.path !== undefined) msg.file = { root: record.root, path: record.path };
          msg.jobId = jobId;
          msg.queue = 'records';
          msg.payload = { jobId };
          node.status({ fill: 'green', shape: 'dot', text: shorten(record.path || `job ${jobId}`) });
          send(msg);
          done();
        },
        (error) => fail(node, msg, done, error),
      );
    });
  }
  RED.nodes.registerType('climcat catalog upsert', CatalogUpsertNode);
};
