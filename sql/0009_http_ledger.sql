-- 0009 the load ledger of http targets, kept in the platform database (an http endpoint
-- has no transaction to commit a ledger row in; see connectors/http_ledger.py):
--   * integration_http_batches: every batch the endpoint acknowledged (2xx), keyed by the
--     data's origin run and the batch number; its idempotency key is <origin run>-<number>.
--     A rerun of the same data skips these batches and resumes after them.
--   * integration_http_loads: one row per completed load (all batches acknowledged), with
--     the same fields as a postgres target's integration_loads.
-- Tenant tables: row-level security as in 0005.

CREATE TABLE integration_http_batches (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    origin_run_id    text NOT NULL,
    batch_number     integer NOT NULL,
    run_id           text NOT NULL,
    idempotency_key  text NOT NULL,
    records          integer NOT NULL,
    config_id        uuid,
    acknowledged_at  timestamptz NOT NULL DEFAULT now(),
    organization_id  uuid NOT NULL DEFAULT current_organization_id()
                     REFERENCES organizations(id) ON DELETE CASCADE,
    CONSTRAINT integration_http_batches_batch_key UNIQUE (origin_run_id, batch_number),
    CONSTRAINT integration_http_batches_config_id_fkey FOREIGN KEY (config_id, organization_id)
        REFERENCES integration_configs (id, organization_id) ON DELETE CASCADE
);

CREATE TABLE integration_http_loads (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id           text NOT NULL CONSTRAINT integration_http_loads_run_id_key UNIQUE,
    origin_run_id    text NOT NULL,
    config_id        uuid,
    pipeline_id      text,
    job_name         text,
    target           text NOT NULL,
    rows_written     bigint NOT NULL,
    batches          integer NOT NULL,
    kind             text NOT NULL DEFAULT 'run',
    state            jsonb,
    dead_letter_ids  text[],
    loaded_at        timestamptz NOT NULL DEFAULT now(),
    organization_id  uuid NOT NULL DEFAULT current_organization_id()
                     REFERENCES organizations(id) ON DELETE CASCADE,
    CONSTRAINT integration_http_loads_config_id_fkey FOREIGN KEY (config_id, organization_id)
        REFERENCES integration_configs (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX idx_integration_http_loads_origin ON integration_http_loads (origin_run_id);
CREATE INDEX idx_integration_http_loads_config ON integration_http_loads (config_id, loaded_at DESC);

DO $$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['integration_http_batches', 'integration_http_loads'] LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO integration_app', v_table);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', v_table);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO integration_app '
            'USING (organization_id = (SELECT current_organization_id())) '
            'WITH CHECK (organization_id = (SELECT current_organization_id()))',
            v_table);
    END LOOP;
END
$$;
