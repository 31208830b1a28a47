'use strict';
const { climcatApi, fail, invalid, positive, shorten } = require('../lib/climcat');

const JOB_DONE = { completed: 'completed', failed: 'failed' };
const SCAN_DONE = { completed: 'completed', failed: 'failed', cancelled: 'failed' };

module.exports = function (RED) {
  /**
   * Polls an ingest job (`msg.jobId`, queue `msg.queue` or `records`) or a scan
   * (`msg.scanId`) until it ends. Output 1: completed (`msg.payload` = the job's
   * result or the scan). Output 2: failed, cancelled or timed out
   * (`msg.payload` = `{ state, reason }`).
   */
  function WaitForJobNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const intervalMs = positive(config.interval, 1000);
    const timeoutMs = positive(config.timeout, 300) * 1000;
    const timers = new Set();
    let waiting = 0;

    const showCount = () =>
      node.status(waiting ? { fill: 'blue', shape: 'ring', text: `waiting for ${waiting}` } : {});

    node.on('input', function (msg, send, done) {
      let api;
      let target;
      try {
        api = climcatApi(RED);
        if (msg.jobId !== undefined && msg.jobId !== null && msg.jobId !== '') {
          const queue = msg.queue || 'records';
          target = {
            label: `job ${msg.jobId}`,
            get: () => api.getJob(queue, String(msg.jobId)),
            kind: 'job',
          };
        } else if (msg.scanId) {
          target = { label: `scan ${msg.scanId}`, get: () => api.getScan(String(msg.scanId)), kind: 'scan' };
        } else {
          throw invalid('msg.jobId (with msg.queue, default records) or msg.scanId is required');
        }
      } catch (error) {
        fail(node, msg, done, error);
        return;
      }
      const deadline = Date.now() + timeoutMs;
      waiting++;
      showCount();
      const finish = () => {
        waiting--;
        showCount();
      };
      const poll = () => {
        target.get().then(
          (info) => {
            const outcome = (target.kind === 'job' ? JOB_DONE : SCAN_DONE)[info.state];
            if (outcome === 'completed') {
              finish();
              msg.payload = target.kind === 'job' ? info.returnValue : info;
              msg[target.kind] = info;
              send([msg, null]);
              done();
            } else if (outcome === 'failed') {
              finish();
              const reason =
                target.kind === 'job' ? info.failedReason || 'failed' : info.message || `scan ${info.state}`;
              msg.payload = { state: info.state, reason };
              msg[target.kind] = info;
              node.status({ fill: 'red', shape: 'ring', text: shorten(reason) });
              send([null, msg]);
              done();
            } else if (Date.now() >= deadline) {
              finish();
              msg.payload = {
                state: info.state,
                reason: `${target.label} did not finish within ${timeoutMs / 1000} s (state ${info.state})`,
                timedOut: true,
              };
              msg[target.kind] = info;
              send([null, msg]);
              done();
            } else {
              const timer = setTimeout(() => {
                timers.delete(timer);
                poll();
              }, intervalMs);
              timers.add(timer);
            }
          },
          (error) => {
            finish();
            fail(node, msg, done, error);
          },
        );
      };
      poll();
    });

    node.on('close', function () {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      waiting = 0;
      node.status({});
    });
  }
  RED.nodes.registerType('climcat wait for job', WaitForJobNode);
};
