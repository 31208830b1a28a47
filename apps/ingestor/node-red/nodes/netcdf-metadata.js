'use strict';
const { climcatApi, fileRef, fail, shorten } = require('../lib/climcat');

module.exports = function (RED) {
  /** Reads a file's header: CF summary, DRS facets and the dataset it would join. Writes nothing. */
  function NetcdfMetadataNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.root = config.root || '';

    node.on('input', function (msg, send, done) {
      let api;
      let ref;
      try {
        api = climcatApi(RED);
        ref = fileRef(api, msg, node.root);
      } catch (error) {
        fail(node, msg, done, error);
        return;
      }
      node.status({ fill: 'blue', shape: 'dot', text: shorten(ref.path) });
      api.inspect(ref.root, ref.path).then(
        (inspection) => {
          msg.file = ref;
          msg.payload = inspection;
          node.status({ fill: 'green', shape: 'dot', text: shorten(inspection.grouping.id) });
          send(msg);
          done();
        },
        (error) => fail(node, msg, done, error),
      );
    });
  }
  RED.nodes.registerType('climcat netcdf metadata', NetcdfMetadataNode);
};
