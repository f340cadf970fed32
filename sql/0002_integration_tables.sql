-- 0002 the seed's integration tables (mappings, tests, schedules, templates,
-- transformations, pipelines) and integration_executions, with the seed's names,
-- CHECKs, UNIQUEs and indexes. Additions beyond the seed are named valid_* / *_key too
-- and listed in integration_orchestrator/db/schema.py.

-- ---------------------------------------------------------------------------------------
-- Transformations (reusable, organization-wide)
-- ---------------------------------------------------------------------------------------
CREATE TABLE integration_transformations (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    transformation_name  text NOT NULL,
    description          text,
    transformation_type  transformation_type NOT NULL DEFAULT 'map',
    input_schema         jsonb,
    output_schema        jsonb,
    transformation_logic jsonb NOT NULL,
    language             transformation_language NOT NULL,
    is_reusable          boolean NOT NULL DEFAULT true,
    performance_tier     performance_tier NOT NULL DEFAULT 'standard',
    timeout_seconds      integer NOT NULL DEFAULT 30,
    error_output_schema  jsonb,
    test_cases           jsonb,
    organization_id      uuid NOT NULL DEFAULT current_organization_id()
                         REFERENCES organizations(id) ON DELETE CASCADE,
    created_by           uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_by           uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    version              integer NOT NULL DEFAULT 1,
    CONSTRAINT integration_transformations_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT valid_input_schema CHECK (jsonb_typeof(input_schema) = 'object'),
    CONSTRAINT valid_output_schema CHECK (jsonb_typeof(output_schema) = 'object'),
    CONSTRAINT valid_logic CHECK (jsonb_typeof(transformation_logic) = 'object'),
    CONSTRAINT valid_error_schema CHECK (jsonb_typeof(error_output_schema) = 'object'),
    CONSTRAINT valid_test_cases CHECK (jsonb_typeof(test_cases) = 'object'),
    CONSTRAINT valid_transformation_name CHECK (btrim(transformation_name) <> ''),
    CONSTRAINT valid_timeout_seconds CHECK (timeout_seconds > 0),
    CONSTRAINT valid_transformation_version CHECK (version >= 1)
);
CREATE INDEX idx_transformations_reusable ON integration_transformations (transformation_type, is_reusable)
    WHERE is_reusable = true;
CREATE INDEX idx_transformations_organization ON integration_transformations (organization_id);

-- ---------------------------------------------------------------------------------------
-- Field mappings and their tests
-- ---------------------------------------------------------------------------------------
CREATE TABLE integration_mappings (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    config_id            uuid NOT NULL,
    mapping_name         text NOT NULL,
    mapping_type         mapping_type NOT NULL DEFAULT 'field',
    source_path          text NOT NULL,
    target_path          text NOT NULL,
    source_data_type     text,
    target_data_type     text,
    is_required          boolean NOT NULL DEFAULT false,
    default_value        text,
    transformation_rules jsonb,
    validation_rules     jsonb,
    mapping_direction    mapping_direction NOT NULL DEFAULT 'inbound',
    is_active            boolean NOT NULL DEFAULT true,
    error_handling       mapping_error_handling NOT NULL DEFAULT 'fail',
    mapping_notes        text,
    test_coverage        numeric(5, 2),
    organization_id      uuid NOT NULL DEFAULT current_organization_id()
                         REFERENCES organizations(id) ON DELETE CASCADE,
    created_by           uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_by           uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    version              integer NOT NULL DEFAULT 1,
    CONSTRAINT integration_mappings_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT integration_mappings_config_id_fkey FOREIGN KEY (config_id, organization_id)
        REFERENCES integration_configs (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT valid_transformation CHECK (jsonb_typeof(transformation_rules) = 'object'),
    CONSTRAINT valid_validation CHECK (jsonb_typeof(validation_rules) = 'object'),
    CONSTRAINT valid_mapping_name CHECK (btrim(mapping_name) <> ''),
    CONSTRAINT valid_source_path CHECK (btrim(source_path) <> ''),
    CONSTRAINT valid_target_path CHECK (btrim(target_path) <> ''),
    CONSTRAINT valid_test_coverage CHECK (test_coverage BETWEEN 0 AND 100),
    CONSTRAINT valid_mapping_version CHECK (version >= 1)
);
CREATE INDEX idx_integration_mappings_config ON integration_mappings (config_id, is_active);
CREATE INDEX idx_integration_mappings_active ON integration_mappings (config_id, is_active)
    WHERE is_active = true;
CREATE INDEX idx_mappings_transformation ON integration_mappings USING GIN (transformation_rules);
CREATE INDEX idx_integration_mappings_organization ON integration_mappings (organization_id);

CREATE TABLE integration_mapping_tests (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    mapping_id        uuid NOT NULL,
    test_name         text NOT NULL,
    test_type         mapping_test_type NOT NULL DEFAULT 'unit',
    input_data        jsonb NOT NULL,
    expected_output   jsonb NOT NULL,
    test_status       mapping_test_status NOT NULL DEFAULT 'pending',
    actual_output     jsonb,
    execution_time_ms integer,
    error_message     text,
    last_run          timestamptz,
    is_active         boolean NOT NULL DEFAULT true,
    organization_id   uuid NOT NULL DEFAULT current_organization_id()
                      REFERENCES organizations(id) ON DELETE CASCADE,
    created_by        uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_by        uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT integration_mapping_tests_mapping_id_fkey FOREIGN KEY (mapping_id, organization_id)
        REFERENCES integration_mappings (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT valid_input CHECK (jsonb_typeof(input_data) = 'object'),
    CONSTRAINT valid_expected CHECK (jsonb_typeof(expected_output) = 'object'),
    CONSTRAINT valid_actual CHECK (jsonb_typeof(actual_output) = 'object'),
    CONSTRAINT valid_test_name CHECK (btrim(test_name) <> ''),
    CONSTRAINT valid_execution_time CHECK (execution_time_ms >= 0)
);
CREATE INDEX idx_mapping_tests_status ON integration_mapping_tests (mapping_id, test_status);
CREATE INDEX idx_mapping_tests_organization ON integration_mapping_tests (organization_id);

-- ---------------------------------------------------------------------------------------
-- Pipelines
-- ---------------------------------------------------------------------------------------
CREATE TABLE integration_pipeline_definitions (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    pipeline_name           text NOT NULL,
    description             text,
    config_id               uuid NOT NULL,
    pipeline_type           pipeline_type NOT NULL DEFAULT 'linear',
    pipeline_steps          jsonb NOT NULL,
    error_handling_strategy error_handling_strategy NOT NULL DEFAULT 'fail_fast',
    dead_letter_config      jsonb,
    performance_config      jsonb,
    monitoring_config       jsonb,
    is_active               boolean NOT NULL DEFAULT true,
    organization_id         uuid NOT NULL DEFAULT current_organization_id()
                            REFERENCES organizations(id) ON DELETE CASCADE,
    created_by              uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_by              uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    version                 integer NOT NULL DEFAULT 1,
    CONSTRAINT integration_pipeline_definitions_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT integration_pipeline_definitions_config_id_fkey FOREIGN KEY (config_id, organization_id)
        REFERENCES integration_configs (id, organization_id),
    CONSTRAINT valid_steps CHECK (jsonb_typeof(pipeline_steps) = 'object'),
    -- DESIGN.md 3: the steps list lives under the "steps" key
    CONSTRAINT valid_steps_array CHECK (coalesce(jsonb_typeof(pipeline_steps -> 'steps'), 'missing') = 'array'),
    CONSTRAINT valid_dead_letter CHECK (jsonb_typeof(dead_letter_config) = 'object'),
    CONSTRAINT valid_performance CHECK (jsonb_typeof(performance_config) = 'object'),
    CONSTRAINT valid_monitoring CHECK (jsonb_typeof(monitoring_config) = 'object'),
    CONSTRAINT valid_pipeline_name CHECK (btrim(pipeline_name) <> ''),
    CONSTRAINT valid_pipeline_version CHECK (version >= 1)
);
CREATE INDEX idx_pipeline_steps ON integration_pipeline_definitions USING GIN (pipeline_steps);
CREATE INDEX idx_pipeline_definitions_config ON integration_pipeline_definitions (config_id, is_active);
CREATE INDEX idx_pipeline_definitions_organization ON integration_pipeline_definitions (organization_id);

-- ---------------------------------------------------------------------------------------
-- Schedules (next_run_time is computed by the trigger of 0006_schedule_times.sql)
-- ---------------------------------------------------------------------------------------
CREATE TABLE integration_schedules (
    id                           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    config_id                    uuid NOT NULL,
    schedule_name                text NOT NULL,
    schedule_type                schedule_type NOT NULL,
    cron_expression              text,
    interval_minutes             integer,
    fixed_times                  time[],
    timezone                     text NOT NULL DEFAULT 'UTC',
    is_active                    boolean NOT NULL DEFAULT true,
    start_date                   date,
    end_date                     date,
    next_run_time                timestamptz,
    last_run_time                timestamptz,
    retry_policy                 jsonb,
    execution_timeout_seconds    integer NOT NULL DEFAULT 300,
    concurrent_execution_allowed boolean NOT NULL DEFAULT false,
    missed_execution_policy      missed_execution_policy NOT NULL DEFAULT 'run_once',
    notification_on_failure      boolean NOT NULL DEFAULT true,
    notification_recipients      uuid[],
    execution_parameters         jsonb,
    organization_id              uuid NOT NULL DEFAULT current_organization_id()
                                 REFERENCES organizations(id) ON DELETE CASCADE,
    created_by                   uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_by                   uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at                   timestamptz NOT NULL DEFAULT now(),
    version                      integer NOT NULL DEFAULT 1,
    CONSTRAINT integration_schedules_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT integration_schedules_config_id_fkey FOREIGN KEY (config_id, organization_id)
        REFERENCES integration_configs (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT valid_retry_policy CHECK (jsonb_typeof(retry_policy) = 'object'),
    CONSTRAINT valid_exec_params CHECK (jsonb_typeof(execution_parameters) = 'object'),
    CONSTRAINT valid_schedule CHECK (
        (schedule_type = 'cron' AND cron_expression IS NOT NULL) OR
        (schedule_type = 'interval' AND interval_minutes IS NOT NULL) OR
        (schedule_type = 'fixed_time' AND fixed_times IS NOT NULL) OR
        (schedule_type IN ('event_based', 'manual'))
    ),
    CONSTRAINT valid_schedule_name CHECK (btrim(schedule_name) <> ''),
    CONSTRAINT valid_interval_minutes CHECK (interval_minutes > 0),
    CONSTRAINT valid_fixed_times CHECK (cardinality(fixed_times) > 0 AND array_position(fixed_times, NULL) IS NULL),
    CONSTRAINT valid_execution_timeout CHECK (execution_timeout_seconds > 0),
    CONSTRAINT valid_date_range CHECK (end_date >= start_date),
    CONSTRAINT valid_schedule_version CHECK (version >= 1)
);
CREATE INDEX idx_schedules_next_run ON integration_schedules (next_run_time, is_active) WHERE is_active = true;
CREATE INDEX idx_schedules_active_next ON integration_schedules (is_active, next_run_time) WHERE is_active = true;
CREATE INDEX idx_schedules_retry ON integration_schedules USING GIN (retry_policy);
CREATE INDEX idx_schedules_config ON integration_schedules (config_id);
CREATE INDEX idx_schedules_organization ON integration_schedules (organization_id);

-- ---------------------------------------------------------------------------------------
-- Executions: one row per Dagster run of an integration
-- ---------------------------------------------------------------------------------------
CREATE TABLE integration_executions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    config_id        uuid NOT NULL,
    pipeline_id      uuid,
    schedule_id      uuid,
    dagster_run_id   text,
    dagster_job_name text,
    status           execution_status NOT NULL DEFAULT 'queued',
    started_at       timestamptz,
    finished_at      timestamptz,
    records_in       bigint NOT NULL DEFAULT 0,
    records_out      bigint NOT NULL DEFAULT 0,
    records_failed   bigint NOT NULL DEFAULT 0,
    error_message    text,
    config_versions  jsonb NOT NULL DEFAULT '{}'::jsonb,
    tags             jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    organization_id  uuid NOT NULL DEFAULT current_organization_id()
                     REFERENCES organizations(id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT integration_executions_dagster_run_id_key UNIQUE (dagster_run_id),
    CONSTRAINT integration_executions_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT integration_executions_config_id_fkey FOREIGN KEY (config_id, organization_id)
        REFERENCES integration_configs (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT integration_executions_pipeline_id_fkey FOREIGN KEY (pipeline_id, organization_id)
        REFERENCES integration_pipeline_definitions (id, organization_id) ON DELETE SET NULL (pipeline_id),
    CONSTRAINT integration_executions_schedule_id_fkey FOREIGN KEY (schedule_id, organization_id)
        REFERENCES integration_schedules (id, organization_id) ON DELETE SET NULL (schedule_id),
    CONSTRAINT valid_execution_records CHECK (records_in >= 0 AND records_out >= 0 AND records_failed >= 0),
    CONSTRAINT valid_execution_times CHECK (finished_at >= started_at),
    CONSTRAINT valid_config_versions CHECK (jsonb_typeof(config_versions) = 'object'),
    CONSTRAINT valid_execution_tags CHECK (jsonb_typeof(tags) = 'object'),
    CONSTRAINT valid_execution_metadata CHECK (jsonb_typeof(metadata) = 'object')
);
CREATE INDEX idx_executions_config ON integration_executions (config_id, created_at DESC);
CREATE INDEX idx_executions_status ON integration_executions (status, created_at DESC)
    WHERE status IN ('queued', 'running');
CREATE INDEX idx_executions_pipeline ON integration_executions (pipeline_id) WHERE pipeline_id IS NOT NULL;
CREATE INDEX idx_executions_schedule ON integration_executions (schedule_id) WHERE schedule_id IS NOT NULL;
CREATE INDEX idx_executions_organization ON integration_executions (organization_id);

CREATE TABLE integration_schedule_executions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id       uuid NOT NULL,
    execution_id      uuid,
    scheduled_time    timestamptz NOT NULL,
    actual_start_time timestamptz,
    actual_end_time   timestamptz,
    execution_status  schedule_execution_status NOT NULL DEFAULT 'scheduled',
    records_processed integer NOT NULL DEFAULT 0,
    error_count       integer NOT NULL DEFAULT 0,
    warning_count     integer NOT NULL DEFAULT 0,
    execution_notes   text,
    organization_id   uuid NOT NULL DEFAULT current_organization_id()
                      REFERENCES organizations(id) ON DELETE CASCADE,
    CONSTRAINT integration_schedule_executions_schedule_id_fkey FOREIGN KEY (schedule_id, organization_id)
        REFERENCES integration_schedules (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT integration_schedule_executions_execution_id_fkey FOREIGN KEY (execution_id, organization_id)
        REFERENCES integration_executions (id, organization_id) ON DELETE SET NULL (execution_id),
    CONSTRAINT valid_schedule_execution_counts CHECK (
        records_processed >= 0 AND error_count >= 0 AND warning_count >= 0
    ),
    CONSTRAINT valid_schedule_execution_times CHECK (actual_end_time >= actual_start_time)
);
CREATE INDEX idx_schedule_executions_status
    ON integration_schedule_executions (schedule_id, execution_status, scheduled_time DESC);
CREATE INDEX idx_schedule_executions_recent ON integration_schedule_executions (schedule_id, scheduled_time DESC);
CREATE INDEX idx_schedule_executions_execution ON integration_schedule_executions (execution_id)
    WHERE execution_id IS NOT NULL;
CREATE INDEX idx_schedule_executions_organization ON integration_schedule_executions (organization_id);

-- ---------------------------------------------------------------------------------------
-- Templates (organization_id NULL = system template, readable by every organization)
-- ---------------------------------------------------------------------------------------
CREATE TABLE integration_templates (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_name          text NOT NULL,
    description            text,
    integration_type       text NOT NULL,
    template_category      template_category NOT NULL DEFAULT 'custom',
    version                text NOT NULL,
    is_active              boolean NOT NULL DEFAULT true,
    is_certified           boolean NOT NULL DEFAULT false,
    certification_date     date,
    connection_template    jsonb NOT NULL,
    mapping_templates      jsonb NOT NULL,
    transformation_library jsonb,
    test_suite             jsonb,
    documentation_url      text,
    prerequisites          text[],
    supported_operations   text[],
    rate_limits            jsonb,
    organization_id        uuid DEFAULT current_organization_id()
                           REFERENCES organizations(id) ON DELETE CASCADE,
    created_by             uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_by             uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT valid_connection CHECK (jsonb_typeof(connection_template) = 'object'),
    CONSTRAINT valid_mappings CHECK (jsonb_typeof(mapping_templates) = 'object'),
    -- DESIGN.md 3: the mapping list lives under the "mappings" key
    CONSTRAINT valid_mappings_array CHECK (coalesce(jsonb_typeof(mapping_templates -> 'mappings'), 'missing') = 'array'),
    CONSTRAINT valid_transforms CHECK (jsonb_typeof(transformation_library) = 'object'),
    CONSTRAINT valid_tests CHECK (jsonb_typeof(test_suite) = 'object'),
    CONSTRAINT valid_rate_limits CHECK (jsonb_typeof(rate_limits) = 'object'),
    CONSTRAINT valid_template_name CHECK (btrim(template_name) <> ''),
    CONSTRAINT valid_template_version CHECK (btrim(version) <> ''),
    -- NULLS NOT DISTINCT: system templates (organization_id NULL) are unique too
    CONSTRAINT integration_templates_template_name_version_organization_id_key
        UNIQUE NULLS NOT DISTINCT (template_name, version, organization_id)
);
CREATE INDEX idx_templates_active ON integration_templates (template_category, is_active) WHERE is_active = true;
CREATE INDEX idx_templates_mappings ON integration_templates USING GIN (mapping_templates);
CREATE INDEX idx_templates_organization ON integration_templates (organization_id);

CREATE TABLE integration_template_instances (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id       uuid NOT NULL REFERENCES integration_templates(id),
    config_id         uuid,
    instance_name     text NOT NULL,
    customizations    jsonb,
    deployment_status deployment_status NOT NULL DEFAULT 'draft',
    deployed_date     timestamptz,
    deployed_by       uuid REFERENCES users(id) ON DELETE SET NULL,
    organization_id   uuid NOT NULL DEFAULT current_organization_id()
                      REFERENCES organizations(id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT integration_template_instances_config_id_fkey FOREIGN KEY (config_id, organization_id)
        REFERENCES integration_configs (id, organization_id),
    CONSTRAINT valid_customizations CHECK (jsonb_typeof(customizations) = 'object'),
    CONSTRAINT valid_instance_name CHECK (btrim(instance_name) <> '')
);
CREATE INDEX idx_template_instances_template ON integration_template_instances (template_id);
CREATE INDEX idx_template_instances_config ON integration_template_instances (config_id);
CREATE INDEX idx_template_instances_organization ON integration_template_instances (organization_id);
