/**
 * Where purge notices go: a webhook when SCRATCH_NOTIFY_WEBHOOK is set (a
 * mailer, chat bridge or ticket system receives the JSON), else the log
 * (standalone). The run records a notice once it was delivered, so it is
 * never sent twice; a failed one is retried by the next run.
 */
import { Logger } from '@nestjs/common';

export type PurgeNoticeEvent = 'purge.planned' | 'purge.due-soon';

export interface PurgeNotice {
  event: PurgeNoticeEvent;
  user: string;
  directory: string;
  runId: string;
  at: string;
  files: { path: string; bytes: number; due: string }[];
  bytes: number;
  /** Where the user sees their full plan. */
  plan: string;
}

export interface PurgeNotifier {
  /** True when the notice reached every channel; never throws. */
  deliver(notice: PurgeNotice): Promise<boolean>;
}

export const PURGE_NOTIFIER = Symbol('scratch.purge-notifier');

/** Files listed in one notice at most (the plan URL has them all). */
export const NOTICE_FILE_LIMIT = 1000;

export class LogNotifier implements PurgeNotifier {
  private readonly logger = new Logger('PurgeNotices');

  async deliver(notice: PurgeNotice): Promise<boolean> {
    const what = notice.event === 'purge.planned' ? 'entered the purge plan' : 'will be purged within a day';
    this.logger.log(
      `${notice.user}: ${notice.files.length} file(s), ${notice.bytes} bytes ${what} (first due ${notice.files[0]?.due ?? '-'}; see ${notice.plan})`,
    );
    return true;
  }
}

export class WebhookNotifier implements PurgeNotifier {
  private readonly logger = new Logger('PurgeNotices');

  constructor(
    private readonly url: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async deliver(notice: PurgeNotice): Promise<boolean> {
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(notice),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.arrayBuffer();
      if (res.ok) {
        this.logger.log(
          `${notice.event} notice for ${notice.user} (${notice.files.length} file(s)) delivered`,
        );
        return true;
      }
      this.logger.warn(
        `webhook answered ${res.status} to ${notice.event} for ${notice.user}; retried next run`,
      );
    } catch (error) {
      this.logger.warn(
        `webhook failed for ${notice.event} of ${notice.user} (${(error as Error).message}); retried next run`,
      );
    }
    return false;
  }
}

export function notifierFor(webhook: string | undefined): PurgeNotifier {
  return webhook ? new WebhookNotifier(webhook) : new LogNotifier();
}
