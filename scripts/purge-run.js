#!/usr/bin/env node
// Runs one fair-use purge through the scratch-quota service (the Helm chart's CronJob).
// The service owns the plan, the notices and the purged-files record; this only asks it
// to run and fails (exit 1) on any answer but 2xx, printing the problem it got.
// Env: PURGE_URL (…/scratch/v1/purge/runs), ADMIN_API_KEY, PURGE_DRY_RUN (true|false).
'use strict';

const url = process.env.PURGE_URL;
const key = process.env.ADMIN_API_KEY;
const dryRun = /^(1|true|yes)$/i.test(process.env.PURGE_DRY_RUN ?? 'false');
const attempts = 5;

async function main() {
  if (!url || !key) throw new Error('PURGE_URL and ADMIN_API_KEY must be set');
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ dryRun }),
      });
    } catch (error) {
      // The service may be restarting: retry connection failures a few times.
      if (attempt >= attempts)
        throw new Error(`cannot reach ${url}: ${error.cause?.message ?? error.message}`);
      await sleep(2 ** attempt * 1000);
      continue;
    }
    const text = await res.text();
    if (res.ok) {
      process.stdout.write(`${text}\n`);
      return;
    }
    if ((res.status === 503 || res.status === 429) && attempt < attempts) {
      const after = Number(res.headers.get('retry-after'));
      await sleep(Number.isFinite(after) && after > 0 ? after * 1000 : 2 ** attempt * 1000);
      continue;
    }
    throw new Error(`${url} answered ${res.status}: ${text}`);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

main().catch((error) => {
  process.stderr.write(`purge run failed: ${error.message}\n`);
  process.exitCode = 1;
});
