-- 0003 platform tables beyond the seed (DESIGN.md 3): events for event_based schedules,
-- dead letters, notifications, encrypted credentials, configuration history.

CREATE TABLE integration_events (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    config_id          uuid NOT NULL,
    event_type         text NOT NULL,
    payload            jsonb NOT NULL DEFAULT '{}'::jsonb,
    status             event_status NOT NULL DEFAULT 'pending',
    consumed_at        timestamptz,
    consumed_by_run_id text,
    error_message      text,
    organization_id    uuid NOT NULL DEFAULT current_organization_id()
                       REFERENCES organizations(id) ON DELETE CASCADE,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT integration_events_config_id_fkey FOREIGN KEY (config_id, organization_id)
        REFERENCES integration_configs (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT valid_event_type CHECK (btrim(event_type) <> ''),
    CONSTRAINT valid_event_payload CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX idx_events_pending ON integration_events (config_id, created_at) WHERE status = 'pending';
CREATE INDEX idx_events_config ON integration_events (config_id, created_at DESC);
CREATE INDEX idx_events_organization ON integration_events (organization_id);

CREATE TABLE integration_dead_letters (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    execution_id        uuid,
    config_id           uuid NOT NULL,
    pipeline_id         uuid,
    step_name           text,
    record              jsonb NOT NULL,
    error_message       text NOT NULL,
    error_details       jsonb,
    status              dead_letter_status NOT NULL DEFAULT 'pending',
    replay_count        integer NOT NULL DEFAULT 0,
    replayed_at         timestamptz,
    replay_execution_id uuid,
    organization_id     uuid NOT NULL DEFAULT current_organization_id()
                        REFERENCES organizations(id) ON DELETE CASCADE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT integration_dead_letters_execution_id_fkey FOREIGN KEY (execution_id, organization_id)
        REFERENCES integration_executions (id, organization_id) ON DELETE SET NULL (execution_id),
    CONSTRAINT integration_dead_letters_config_id_fkey FOREIGN KEY (config_id, organization_id)
        REFERENCES integration_configs (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT integration_dead_letters_pipeline_id_fkey FOREIGN KEY (pipeline_id, organization_id)
        REFERENCES integration_pipeline_definitions (id, organization_id) ON DELETE SET NULL (pipeline_id),
    CONSTRAINT integration_dead_letters_replay_execution_id_fkey FOREIGN KEY (replay_execution_id, organization_id)
        REFERENCES integration_executions (id, organization_id) ON DELETE SET NULL (replay_execution_id),
    CONSTRAINT valid_dead_letter_details CHECK (jsonb_typeof(error_details) = 'object'),
    CONSTRAINT valid_replay_count CHECK (replay_count >= 0)
);
CREATE INDEX idx_dead_letters_pending ON integration_dead_letters (config_id, created_at) WHERE status = 'pending';
CREATE INDEX idx_dead_letters_execution ON integration_dead_letters (execution_id) WHERE execution_id IS NOT NULL;
CREATE INDEX idx_dead_letters_organization ON integration_dead_letters (organization_id);

CREATE TABLE integration_notifications (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id     uuid,
    execution_id    uuid,
    recipient_id    uuid,
    channel         text NOT NULL DEFAULT 'email',
    status          notification_status NOT NULL DEFAULT 'pending',
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    error           text,
    sent_at         timestamptz,
    organization_id uuid NOT NULL DEFAULT current_organization_id()
                    REFERENCES organizations(id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT integration_notifications_schedule_id_fkey FOREIGN KEY (schedule_id, organization_id)
        REFERENCES integration_schedules (id, organization_id) ON DELETE SET NULL (schedule_id),
    CONSTRAINT integration_notifications_execution_id_fkey FOREIGN KEY (execution_id, organization_id)
        REFERENCES integration_executions (id, organization_id) ON DELETE SET NULL (execution_id),
    CONSTRAINT integration_notifications_recipient_id_fkey FOREIGN KEY (recipient_id, organization_id)
        REFERENCES users (id, organization_id) ON DELETE SET NULL (recipient_id),
    CONSTRAINT valid_notification_channel CHECK (channel ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT valid_notification_payload CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX idx_notifications_pending ON integration_notifications (created_at) WHERE status = 'pending';
CREATE INDEX idx_notifications_execution ON integration_notifications (execution_id) WHERE execution_id IS NOT NULL;
CREATE INDEX idx_notifications_organization ON integration_notifications (organization_id);

-- Secrets: Fernet ciphertext only; the key is outside the database (key_id names it).
CREATE TABLE integration_credentials (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL DEFAULT current_organization_id()
                    REFERENCES organizations(id) ON DELETE CASCADE,
    config_id       uuid,
    name            text NOT NULL,
    ciphertext      bytea NOT NULL,
    key_id          text NOT NULL,
    created_by      uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    rotated_at      timestamptz,
    CONSTRAINT integration_credentials_config_id_fkey FOREIGN KEY (config_id, organization_id)
        REFERENCES integration_configs (id, organization_id) ON DELETE CASCADE,
    -- one secret per name per organization and config (config NULL = organization-wide)
    CONSTRAINT integration_credentials_organization_config_name_key
        UNIQUE NULLS NOT DISTINCT (organization_id, config_id, name),
    CONSTRAINT valid_credential_name CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$'),
    CONSTRAINT valid_credential_ciphertext CHECK (octet_length(ciphertext) > 0),
    CONSTRAINT valid_credential_key_id CHECK (btrim(key_id) <> '')
);
CREATE INDEX idx_credentials_config ON integration_credentials (config_id) WHERE config_id IS NOT NULL;

-- Configuration history: one row per insert / versioned update / delete of a
-- configuration row, written only by the record_config_history() trigger (0004).
CREATE TABLE integration_config_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name      text NOT NULL,
    row_id          uuid NOT NULL,
    version         integer NOT NULL,
    operation       history_operation NOT NULL,
    old_row         jsonb,
    new_row         jsonb,
    changed_by      uuid REFERENCES users(id) ON DELETE SET NULL,
    changed_at      timestamptz NOT NULL DEFAULT now(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    CONSTRAINT valid_history_rows CHECK (
        (operation = 'insert' AND old_row IS NULL AND new_row IS NOT NULL) OR
        (operation = 'update' AND old_row IS NOT NULL AND new_row IS NOT NULL) OR
        (operation = 'delete' AND old_row IS NOT NULL AND new_row IS NULL)
    )
);
CREATE INDEX idx_config_history_row ON integration_config_history (row_id, version);
CREATE INDEX idx_config_history_table ON integration_config_history (table_name, changed_at DESC);
CREATE INDEX idx_config_history_organization ON integration_config_history (organization_id, changed_at DESC);
