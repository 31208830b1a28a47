/**
 * The filesystem-quota script: the service's quota table (defaults plus
 * per-user and per-group overrides) as XFS project quotas (one project per
 * user directory) or Lustre `lfs setquota` commands, so the filesystem
 * enforces on notebook writes the numbers the service reports. Every value
 * that reaches the shell is single-quoted; names that cannot be quoted into
 * a tool's own command language are refused before anything is generated.
 */
import { InvalidError, type QuotaLimits } from '@climcat/core';

export type QuotaFilesystem = 'xfs' | 'lustre';
export const QUOTA_FILESYSTEMS: readonly QuotaFilesystem[] = ['xfs', 'lustre'];

export interface ScriptSubject {
  kind: 'user' | 'group';
  name: string;
  limits: QuotaLimits;
  /** Where the limits came from: `default`, or the override's reason. */
  source: string;
}

export interface QuotaScriptInput {
  fs: QuotaFilesystem;
  /** The mount point the tools act on. */
  mount: string;
  /** SCRATCH_ROOT: user directories are `<root>/<user>` (XFS projects). */
  scratchRoot: string;
  defaults: QuotaLimits;
  subjects: ScriptSubject[];
  /** What was left out and why (directories that are not user names…): listed as comments, never acted on. */
  skipped: string[];
  generatedAt: string;
}

/** POSIX shell single quoting: safe for any byte string without NUL. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('a NUL byte cannot be passed to a shell command');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A path xfs_quota's own command parser keeps whole inside double quotes. */
export function xfsPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path';
  // eslint-disable-next-line no-control-regex
  if (/["\\\u0000-\u001f\u007f]/.test(path))
    return 'must not contain quotes, backslashes or control characters';
  return undefined;
}

/**
 * A stable XFS project id per user (FNV-1a of the name), so re-running the
 * script after users are added never renumbers existing projects; the rare
 * collision moves to the next free id in name order.
 */
export function projectIds(names: readonly string[]): Map<string, number> {
  const ids = new Map<string, number>();
  const taken = new Set<number>();
  for (const name of [...names].sort()) {
    let h = 0x811c9dc5;
    for (const byte of Buffer.from(name, 'utf8')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
    // Above the ids sites hand out by hand, below 2^31 (older xfsprogs treat ids as signed).
    let id = 100_000 + (h % 2_000_000_000);
    while (taken.has(id)) id++;
    taken.add(id);
    ids.set(name, id);
  }
  return ids;
}

/** Bytes as whole KiB, rounded up (both tools count blocks in KiB; 0 = no limit). */
function kib(bytes: number | undefined): number {
  return bytes === undefined ? 0 : Math.ceil(bytes / 1024);
}

function count(files: number | undefined): number {
  return files ?? 0;
}

const comment = (text: string) => `# ${JSON.stringify(text).slice(1, -1)}`;

export function quotaScript(input: QuotaScriptInput): string {
  const problem = xfsPathProblem(input.mount);
  if (problem) throw InvalidError.field('query.mount', problem);
  const lines = [
    '#!/bin/sh',
    `# climcat scratch quotas for ${input.fs === 'xfs' ? 'XFS project quotas' : 'Lustre'}, generated ${input.generatedAt}`,
    '# from GET /scratch/v1/quotas/script: defaults plus every per-user and per-group override.',
    '# Limits are KiB (rounded up) and inode counts; 0 means no limit. Review, then run as root.',
    'set -eu',
    `MOUNT=${shellQuote(input.mount)}`,
    '',
  ];
  for (const name of input.skipped) lines.push(comment(`skipped ${name}`));
  if (input.skipped.length) lines.push('');
  if (input.fs === 'xfs') lines.push(...xfs(input));
  else lines.push(...lustre(input));
  return `${lines.join('\n')}\n`;
}

function xfs(input: QuotaScriptInput): string[] {
  const rootProblem = xfsPathProblem(input.scratchRoot);
  if (rootProblem) throw InvalidError.field('SCRATCH_ROOT', rootProblem);
  const users = input.subjects.filter((s) => s.kind === 'user');
  const ids = projectIds(users.map((u) => u.name));
  const xq = (command: string) => `xfs_quota -x -c ${shellQuote(command)} "$MOUNT"`;
  const out = [
    '# One project per user directory (mount with -o prjquota). The grace period is per filesystem',
    '# in XFS: the default applies to all; per-user grace overrides are noted below but cannot be set.',
    xq(`timer -p -b -i ${input.defaults.graceSeconds}`),
  ];
  for (const group of input.subjects.filter((s) => s.kind === 'group'))
    out.push(
      comment(`group ${group.name}: group directories have no project here; set it by hand if needed`),
    );
  for (const user of users) {
    const id = ids.get(user.name)!;
    const dir = `${input.scratchRoot.replace(/\/+$/, '')}/${user.name}`;
    const l = user.limits;
    out.push(
      '',
      comment(`user ${user.name} (project ${id}; limits from ${user.source})`),
      ...(l.graceSeconds !== input.defaults.graceSeconds
        ? [comment(`grace ${l.graceSeconds}s requested; XFS keeps the filesystem's`)]
        : []),
      xq(`project -s -p "${dir}" ${id}`),
      xq(
        `limit -p bsoft=${kib(l.softBytes)}k bhard=${kib(l.hardBytes)}k isoft=${count(l.softFiles)} ihard=${count(l.hardFiles)} ${id}`,
      ),
    );
  }
  return out;
}

function lustre(input: QuotaScriptInput): string[] {
  const d = input.defaults;
  const limits = (l: QuotaLimits) =>
    `-b ${kib(l.softBytes)} -B ${kib(l.hardBytes)} -i ${count(l.softFiles)} -I ${count(l.hardFiles)}`;
  const out = [
    '# Defaults for every user without an override (Lustre 2.12+ default quotas), then the grace',
    '# periods (per filesystem in Lustre: per-user grace overrides are noted but cannot be set).',
    `lfs setquota -U ${limits(d)} "$MOUNT"`,
    `lfs setquota -t -u --block-grace ${d.graceSeconds} --inode-grace ${d.graceSeconds} "$MOUNT"`,
    `lfs setquota -t -g --block-grace ${d.graceSeconds} --inode-grace ${d.graceSeconds} "$MOUNT"`,
  ];
  for (const s of input.subjects) {
    out.push(
      '',
      comment(`${s.kind} ${s.name} (limits from ${s.source})`),
      ...(s.limits.graceSeconds !== d.graceSeconds
        ? [comment(`grace ${s.limits.graceSeconds}s requested; Lustre keeps the filesystem's`)]
        : []),
      `lfs setquota ${s.kind === 'user' ? '-u' : '-g'} ${shellQuote(s.name)} ${limits(s.limits)} "$MOUNT"`,
    );
  }
  return out;
}
