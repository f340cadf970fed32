-- Dead letters that never multiply (ARCHITECTURE.md §10.9).
--
-- A run's letters are inserted `staged` and become `pending` only when the run's load
-- commits (factory/letters.py: promote_letters). `record_key` is the failed record's stable
-- identity: a hash of (config, pipeline, step, canonical JSON of the plain record) while
-- staged, with `#<n>` (the n-th failure of that content in its run) appended on promotion.
-- At most one `pending` letter per (config, pipeline, step, record_key): a rerun or a
-- concurrent run never adds a second one (its copy is marked `discarded`).
--
-- `ALTER TYPE … ADD VALUE` runs inside this migration's transaction (PostgreSQL >= 12), and
-- nothing below uses the new value: it is usable once this migration has committed.
ALTER TYPE dead_letter_status ADD VALUE IF NOT EXISTS 'staged' BEFORE 'pending';

ALTER TABLE integration_dead_letters ADD COLUMN record_key text;

CREATE UNIQUE INDEX idx_dead_letters_pending_key ON integration_dead_letters
    (config_id, coalesce(pipeline_id, '00000000-0000-0000-0000-000000000000'::uuid), coalesce(step_name, ''),
     record_key)
    WHERE status = 'pending' AND record_key IS NOT NULL;
