/** Bucket-event helpers shared by the ingest suites. */
import { ADMIN, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';

/** Waits until no bucket-event job is waiting, active or delayed (what a suite posted has been applied). */
export async function settleEvents(running: RunningApp): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const counts = await Promise.all(
      ['waiting', 'active', 'delayed'].map(
        async (state) =>
          (await api(running, 'GET', `/ingest/v1/jobs/events?state=${state}`, { headers: ADMIN })).body.total,
      ),
    );
    if (counts.every((n) => n === 0)) return;
    if (Date.now() > deadline) {
      const delayed = await api(running, 'GET', '/ingest/v1/jobs/events?state=delayed', { headers: ADMIN });
      throw new Error(`event jobs did not settle: ${JSON.stringify(delayed.body)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
