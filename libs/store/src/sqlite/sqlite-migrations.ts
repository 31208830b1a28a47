import { legacyBucketRoots, orphanRoot, type StoreRoot } from '../shared/legacy-locations';
import type { Db } from './sqlite-database';

/** What a migration may need beyond the database: the configured roots. */
export interface MigrationContext {
  roots: readonly StoreRoot[];
}

/** SQL, or code for steps that depend on the configuration; each runs in one transaction. */
export type Migration = string | ((db: Db, context: MigrationContext) => void);

/**
 * Schema migrations, applied in order; `PRAGMA user_version` holds how many
 * have run. Append new steps, never edit a released one.
 */
export const MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE datasets (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    dataset_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    project TEXT NOT NULL,
    status TEXT NOT NULL,
    availability TEXT NOT NULL,
    public INTEGER NOT NULL,
    owner_group TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    file_count INTEGER NOT NULL,
    time_start TEXT,
    time_end TEXT,
    south REAL,
    north REAL,
    lon1_min REAL,
    lon1_max REAL,
    lon2_min REAL,
    lon2_max REAL,
    revision INTEGER NOT NULL,
    -- Codes (facet_values.code) of the dataset's facet values, little-endian uint32s: facet counting reads only these.
    facet_codes BLOB NOT NULL
  );
  -- The record itself lives apart so that scans of the filter columns above stay narrow.
  CREATE TABLE dataset_docs (
    pk INTEGER PRIMARY KEY REFERENCES datasets (pk) ON DELETE CASCADE,
    doc TEXT NOT NULL
  );
  CREATE INDEX datasets_dataset_id ON datasets (dataset_id, id);
  CREATE INDEX datasets_created_at ON datasets (created_at, id);
  CREATE INDEX datasets_updated_at ON datasets (updated_at, id);
  CREATE INDEX datasets_size ON datasets (size, id);
  CREATE INDEX datasets_kind_project ON datasets (kind, project);
  CREATE INDEX datasets_owner_group ON datasets (owner_group);

  CREATE TABLE facet_values (
    code INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (name, value)
  );

  CREATE TABLE dataset_facets (
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    ds INTEGER NOT NULL REFERENCES datasets (pk) ON DELETE CASCADE,
    PRIMARY KEY (name, value, ds)
  ) WITHOUT ROWID;
  CREATE INDEX dataset_facets_ds ON dataset_facets (ds);

  CREATE TABLE dataset_groups (
    grp TEXT NOT NULL,
    ds INTEGER NOT NULL REFERENCES datasets (pk) ON DELETE CASCADE,
    PRIMARY KEY (grp, ds)
  ) WITHOUT ROWID;
  CREATE INDEX dataset_groups_ds ON dataset_groups (ds);

  CREATE TABLE dataset_tokens (
    token TEXT NOT NULL,
    ds INTEGER NOT NULL REFERENCES datasets (pk) ON DELETE CASCADE,
    PRIMARY KEY (token, ds)
  ) WITHOUT ROWID;
  CREATE INDEX dataset_tokens_ds ON dataset_tokens (ds);

  CREATE TABLE dataset_derived (
    parent TEXT NOT NULL,
    ds INTEGER NOT NULL REFERENCES datasets (pk) ON DELETE CASCADE,
    PRIMARY KEY (parent, ds)
  ) WITHOUT ROWID;
  CREATE INDEX dataset_derived_ds ON dataset_derived (ds);

  CREATE TABLE files (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    dataset_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    root TEXT NOT NULL,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime TEXT NOT NULL,
    etag TEXT,
    time_start TEXT,
    time_end TEXT,
    doc TEXT NOT NULL,
    UNIQUE (kind, root, path)
  );
  CREATE INDEX files_dataset ON files (dataset_id, path);

  CREATE TABLE audit (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    at TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX audit_entity ON audit (entity_type, entity_id, at, id);

  CREATE TABLE api_keys (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX api_keys_created_at ON api_keys (created_at, id);

  CREATE TABLE scans (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX scans_created_at ON scans (created_at, id);
  `,
  // 2: a location is (root name, path). The storage kind goes; old S3 rows named the bucket and
  // now name its configured root (legacyBucketRoots), else `s3:<bucket>` (orphanRoot). Ids stay.
  (db, { roots }) => {
    const buckets = legacyBucketRoots(roots);
    db.function(
      'legacy_bucket_root',
      { deterministic: true },
      (bucket) => buckets.get(String(bucket)) ?? null,
    );
    db.function('orphan_root', { deterministic: true }, (bucket) => orphanRoot(String(bucket)));
    db.exec(`
    CREATE TABLE files_v2 (
      pk INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      dataset_id TEXT NOT NULL,
      root TEXT NOT NULL,
      path TEXT NOT NULL,
      status TEXT NOT NULL,
      size INTEGER NOT NULL,
      mtime TEXT NOT NULL,
      etag TEXT,
      time_start TEXT,
      time_end TEXT,
      doc TEXT NOT NULL,
      UNIQUE (root, path)
    );
    INSERT INTO files_v2 (pk, id, dataset_id, root, path, status, size, mtime, etag, time_start, time_end, doc)
      SELECT pk, id, dataset_id, new_root, path, status, size, mtime, etag, time_start, time_end,
        json_set(json_remove(doc, '$.location.kind'), '$.location.root', new_root)
      FROM (
        SELECT f.*, CASE
          WHEN f.kind <> 's3' THEN f.root
          WHEN legacy_bucket_root(f.root) IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM files p WHERE p.kind <> 's3' AND p.root = legacy_bucket_root(f.root) AND p.path = f.path
          ) THEN legacy_bucket_root(f.root)
          ELSE orphan_root(f.root)
        END AS new_root
        FROM files f
      );
    DROP TABLE files;
    ALTER TABLE files_v2 RENAME TO files;
    CREATE INDEX files_dataset ON files (dataset_id, path);
    `);
  },
  // ---- scratch quotas (issue 12): quotas, per-subject usage state, exemptions ----
  // API keys need no column for their new `user`: it lives in the JSON doc (absent on old keys = their name).
  `
  CREATE TABLE quotas (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, name)
  ) WITHOUT ROWID;
  CREATE TABLE quota_state (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, name)
  ) WITHOUT ROWID;
  CREATE TABLE quota_exemptions (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX quota_exemptions_subject ON quota_exemptions (kind, name, expires_at);
  `,
  // ---- end of scratch quotas ----
  // ---- 4: fair-use purge (issue 12): the stored plan, purged-file records, leases ----
  `
  CREATE TABLE purge_plan (
    user TEXT NOT NULL,
    path TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (user, path)
  ) WITHOUT ROWID;
  CREATE TABLE purged_files (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user TEXT NOT NULL,
    purged_at TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX purged_files_user ON purged_files (user, purged_at);
  CREATE INDEX purged_files_at ON purged_files (purged_at);
  CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // ---- end of fair-use purge ----
  // ---- 5: scratch promotion jobs (issue 12) ----
  `
  CREATE TABLE promotions (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX promotions_user ON promotions (user, created_at);
  CREATE INDEX promotions_state ON promotions (state);
  `,
  // ---- 6: scratch usage history (one point per subject and UTC day) and reconciliation drift.
  `
  CREATE TABLE usage_history (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    day TEXT NOT NULL,
    at TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, name, day)
  ) WITHOUT ROWID;
  CREATE INDEX usage_history_day ON usage_history (day);
  CREATE TABLE usage_drift (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user TEXT NOT NULL,
    at TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX usage_drift_user ON usage_drift (user, at);
  CREATE INDEX usage_drift_at ON usage_drift (at);
  `,
  // ---- 7: datasets per facet value, kept by triggers (issue 16). Search orders its facet filters by
  // these exact sizes: a count capped at 20k ranks every filter alike once each matches 20k datasets,
  // and the broadest (project=CMIP5) then drove the query over most of the catalog.
  `
  ALTER TABLE facet_values ADD COLUMN datasets INTEGER NOT NULL DEFAULT 0;
  UPDATE facet_values SET datasets =
    (SELECT count(*) FROM dataset_facets f WHERE f.name = facet_values.name AND f.value = facet_values.value);
  CREATE TRIGGER dataset_facets_count_insert AFTER INSERT ON dataset_facets BEGIN
    UPDATE facet_values SET datasets = datasets + 1 WHERE name = NEW.name AND value = NEW.value;
  END;
  CREATE TRIGGER dataset_facets_count_delete AFTER DELETE ON dataset_facets BEGIN
    UPDATE facet_values SET datasets = datasets - 1 WHERE name = OLD.name AND value = OLD.value;
  END;
  `,
  // ---- 8: what a rescan reads of every present file, apart from the docs (issue 16). Read through
  // the table, docs and all, a rescan of 10M files read the table (16.7 GB) twice: once for the
  // walk (iterateStatesByRoot), once for the totals check of every dataset it saw (aggregate).
  // Each of these partial indexes alone answers one of the two.
  `
  CREATE INDEX files_present_states ON files (root, path, id, dataset_id, status, size, mtime, etag)
    WHERE status = 'present';
  CREATE INDEX files_present_totals ON files (dataset_id, size, time_start, time_end)
    WHERE status = 'present';
  `,
];
