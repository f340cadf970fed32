-- 0004 functions and triggers: audit fields (updated_at, version), configuration
-- history, the seed's validate_field_mapping and create_integration_from_template made
-- real, and jsonb_deep_merge. (calculate_next_run_time / cron_next_run and the
-- update_next_run_time trigger live in 0006_schedule_times.sql.)

-- ---------------------------------------------------------------------------------------
-- Audit: updated_at on every UPDATE
-- ---------------------------------------------------------------------------------------
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- Audit: version + 1 when a configuration column changed. The trigger's arguments name
-- runtime columns (e.g. last_run_time) whose changes do not make a new version; a
-- client-supplied version is ignored (the previous version is kept or incremented).
CREATE FUNCTION bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_ignored text[] := coalesce(TG_ARGV::text[], '{}') || ARRAY['updated_at', 'updated_by', 'version'];
BEGIN
    IF (to_jsonb(NEW) - v_ignored) IS DISTINCT FROM (to_jsonb(OLD) - v_ignored) THEN
        NEW.version := OLD.version + 1;
    ELSE
        NEW.version := OLD.version;
    END IF;
    RETURN NEW;
END
$$;

-- Configuration history: AFTER INSERT / UPDATE (only when the version changed) / DELETE.
-- changed_by is the setting integration.user_id when set, else the row's updated_by or
-- created_by. A delete is recorded as version old.version + 1 with new_row NULL.
-- SECURITY DEFINER: the application role can read the history but never write it.
CREATE FUNCTION record_config_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_user uuid := NULLIF(current_setting('integration.user_id', true), '')::uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO integration_config_history
            (table_name, row_id, version, operation, old_row, new_row, changed_by, organization_id)
        VALUES (TG_TABLE_NAME, NEW.id, NEW.version, 'insert', NULL, to_jsonb(NEW),
                coalesce(v_user, NEW.created_by), NEW.organization_id);
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.version IS NOT DISTINCT FROM OLD.version THEN
            RETURN NULL;
        END IF;
        INSERT INTO integration_config_history
            (table_name, row_id, version, operation, old_row, new_row, changed_by, organization_id)
        VALUES (TG_TABLE_NAME, NEW.id, NEW.version, 'update', to_jsonb(OLD), to_jsonb(NEW),
                coalesce(v_user, NEW.updated_by, NEW.created_by), NEW.organization_id);
    ELSE
        -- the organization itself is being deleted: its history goes with it
        IF NOT EXISTS (SELECT 1 FROM organizations WHERE id = OLD.organization_id) THEN
            RETURN NULL;
        END IF;
        INSERT INTO integration_config_history
            (table_name, row_id, version, operation, old_row, new_row, changed_by, organization_id)
        VALUES (TG_TABLE_NAME, OLD.id, OLD.version + 1, 'delete', to_jsonb(OLD), NULL,
                v_user, OLD.organization_id);
    END IF;
    RETURN NULL;
END
$$;

-- Attach set_updated_at to every table that has updated_at.
DO $$
DECLARE
    v_table text;
BEGIN
    FOR v_table IN
        SELECT c.relname
        FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at' AND NOT a.attisdropped
        WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
        ORDER BY c.relname
    LOOP
        EXECUTE format(
            'CREATE TRIGGER set_updated_at BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION set_updated_at()',
            v_table);
    END LOOP;
END
$$;

-- Versioned configuration tables: version bump + history.
CREATE TRIGGER bump_version BEFORE UPDATE ON integration_configs
    FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER bump_version BEFORE UPDATE ON integration_mappings
    FOR EACH ROW EXECUTE FUNCTION bump_version('test_coverage');
CREATE TRIGGER bump_version BEFORE UPDATE ON integration_transformations
    FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER bump_version BEFORE UPDATE ON integration_pipeline_definitions
    FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER bump_version BEFORE UPDATE ON integration_schedules
    FOR EACH ROW EXECUTE FUNCTION bump_version('last_run_time', 'next_run_time');

CREATE TRIGGER record_history AFTER INSERT OR UPDATE OR DELETE ON integration_configs
    FOR EACH ROW EXECUTE FUNCTION record_config_history();
CREATE TRIGGER record_history AFTER INSERT OR UPDATE OR DELETE ON integration_mappings
    FOR EACH ROW EXECUTE FUNCTION record_config_history();
CREATE TRIGGER record_history AFTER INSERT OR UPDATE OR DELETE ON integration_transformations
    FOR EACH ROW EXECUTE FUNCTION record_config_history();
CREATE TRIGGER record_history AFTER INSERT OR UPDATE OR DELETE ON integration_pipeline_definitions
    FOR EACH ROW EXECUTE FUNCTION record_config_history();
CREATE TRIGGER record_history AFTER INSERT OR UPDATE OR DELETE ON integration_schedules
    FOR EACH ROW EXECUTE FUNCTION record_config_history();

-- ---------------------------------------------------------------------------------------
-- validate_field_mapping (seed): transformation_rules must carry a "type"; a data type
-- mismatch without transformation rules is a WARNING.
-- ---------------------------------------------------------------------------------------
CREATE FUNCTION validate_field_mapping() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_rules jsonb := NEW.transformation_rules;
BEGIN
    IF NEW.source_data_type IS NOT NULL AND NEW.target_data_type IS NOT NULL
       AND lower(btrim(NEW.source_data_type)) <> lower(btrim(NEW.target_data_type))
       AND v_rules IS NULL THEN
        RAISE WARNING 'In mapping `%` (id %): data type mismatch without transformation: % -> %',
            NEW.mapping_name, NEW.id, NEW.source_data_type, NEW.target_data_type;
    END IF;

    -- a non-object is rejected by the CHECK valid_transformation
    IF v_rules IS NOT NULL AND jsonb_typeof(v_rules) = 'object' THEN
        IF NOT v_rules ? 'type' THEN
            RAISE EXCEPTION 'In mapping `%` (id %), field `transformation_rules`: transformation rules must include "type"',
                NEW.mapping_name, NEW.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'transformation_rules_type',
                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA, COLUMN = 'transformation_rules',
                      HINT = 'e.g. {"type": "direct"}, {"type": "cast", "to": "integer"}';
        END IF;
        IF jsonb_typeof(v_rules -> 'type') <> 'string' OR btrim(v_rules ->> 'type') = '' THEN
            RAISE EXCEPTION 'In mapping `%` (id %), field `transformation_rules.type`: must be a non-empty string, got %',
                NEW.mapping_name, NEW.id, v_rules -> 'type'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'transformation_rules_type',
                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA, COLUMN = 'transformation_rules';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER validate_mapping_trigger
    BEFORE INSERT OR UPDATE ON integration_mappings
    FOR EACH ROW
    EXECUTE FUNCTION validate_field_mapping();

-- A template instance may use a system template or one of its own organization.
CREATE FUNCTION check_template_instance_organization() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_org uuid;
    v_name text;
BEGIN
    SELECT organization_id, template_name INTO v_org, v_name
    FROM integration_templates WHERE id = NEW.template_id;
    IF FOUND AND v_org IS NOT NULL AND v_org IS DISTINCT FROM NEW.organization_id THEN
        RAISE EXCEPTION 'In template instance `%` (id %), field `template_id`: template % belongs to another organization',
            NEW.instance_name, NEW.id, NEW.template_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'template_instance_same_organization',
                  TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA, COLUMN = 'template_id';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER check_template_organization
    BEFORE INSERT OR UPDATE OF template_id, organization_id ON integration_template_instances
    FOR EACH ROW EXECUTE FUNCTION check_template_instance_organization();

-- notification_recipients (uuid[], no foreign key possible): users of the schedule's organization.
CREATE FUNCTION check_notification_recipients() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_bad text;
BEGIN
    IF NEW.notification_recipients IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT string_agg(coalesce(r::text, 'NULL'), ', ' ORDER BY n) INTO v_bad
    FROM unnest(NEW.notification_recipients) WITH ORDINALITY AS u (r, n)
    WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = u.r AND organization_id = NEW.organization_id);
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'In schedule `%` (id %), field `notification_recipients`: not users of the schedule''s organization: %',
            NEW.schedule_name, NEW.id, v_bad
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'valid_notification_recipients',
                  TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA, COLUMN = 'notification_recipients';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER check_notification_recipients
    BEFORE INSERT OR UPDATE OF notification_recipients, organization_id ON integration_schedules
    FOR EACH ROW EXECUTE FUNCTION check_notification_recipients();

-- ---------------------------------------------------------------------------------------
-- jsonb_deep_merge(a, b): b merged into a; objects merge key by key (recursively),
-- anything else in b (arrays, scalars, JSON null) replaces a's value. SQL NULL b = a.
-- ---------------------------------------------------------------------------------------
CREATE FUNCTION jsonb_deep_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    v_result jsonb;
    v_key text;
    v_value jsonb;
BEGIN
    IF b IS NULL THEN
        RETURN a;
    END IF;
    IF a IS NULL OR jsonb_typeof(a) <> 'object' OR jsonb_typeof(b) <> 'object' THEN
        RETURN b;
    END IF;
    v_result := a;
    FOR v_key, v_value IN SELECT key, value FROM jsonb_each(b) LOOP
        v_result := v_result || jsonb_build_object(v_key, jsonb_deep_merge(v_result -> v_key, v_value));
    END LOOP;
    RETURN v_result;
END
$$;

-- ---------------------------------------------------------------------------------------
-- create_integration_from_template (seed), on {"mappings": [...]} (DESIGN.md 3).
--
-- p_customizations (object, may be NULL):
--   "connection":  deep-merged into the template's connection_template
--   "mappings":    {"<mapping name>": {partial mapping} | false | {"disabled": true}}
--   "description", "timezone": for the new integration_configs row
-- Template mapping keys: name, source_path, target_path (required), mapping_type,
-- source_data_type, target_data_type, is_required, default_value, transformation_rules
-- (or transformation), validation_rules, mapping_direction, error_handling,
-- mapping_notes, is_active.
-- test_suite {"tests": [{"mapping", "name", "test_type", "input_data", "expected_output"}]}
-- becomes integration_mapping_tests rows of the created mappings.
-- Every error names the template and the mapping/test; nothing is half-written.
-- ---------------------------------------------------------------------------------------
CREATE FUNCTION create_integration_from_template(
    p_template_id uuid,
    p_instance_name text,
    p_customizations jsonb,
    p_organization_id uuid,
    p_created_by uuid
) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_template integration_templates%ROWTYPE;
    v_label text;
    v_custom jsonb := coalesce(p_customizations, '{}'::jsonb);
    v_overrides jsonb;
    v_override jsonb;
    v_names text[] := '{}';
    v_created jsonb := '{}'::jsonb;
    v_config_id uuid;
    v_mapping_id uuid;
    v_item jsonb;
    v_position bigint;
    v_name text;
    v_key text;
    v_bad text;
    v_state text;
    v_message text;
    v_constraint text;
    v_override_keys text[] := ARRAY[
        'source_path', 'target_path', 'mapping_type', 'source_data_type', 'target_data_type', 'is_required',
        'default_value', 'transformation_rules', 'transformation', 'validation_rules', 'mapping_direction',
        'error_handling', 'mapping_notes', 'is_active', 'disabled'];
BEGIN
    IF p_template_id IS NULL THEN
        RAISE EXCEPTION 'create_integration_from_template: p_template_id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO v_template FROM integration_templates WHERE id = p_template_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Template % not found', p_template_id USING ERRCODE = 'no_data_found';
    END IF;
    v_label := format('template `%s` version %s (id %s)', v_template.template_name, v_template.version, v_template.id);
    IF NOT v_template.is_active THEN
        RAISE EXCEPTION 'In %: the template is inactive', v_label
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF p_organization_id IS NULL THEN
        RAISE EXCEPTION 'In %: p_organization_id must not be NULL', v_label
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF v_template.organization_id IS NOT NULL AND v_template.organization_id <> p_organization_id THEN
        RAISE EXCEPTION 'In %: the template belongs to another organization', v_label
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_instance_name IS NULL OR btrim(p_instance_name) = '' THEN
        RAISE EXCEPTION 'In %: the instance name must not be empty', v_label
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- customizations
    IF jsonb_typeof(v_custom) <> 'object' THEN
        RAISE EXCEPTION 'In %, customizations: must be a JSON object, got %', v_label, jsonb_typeof(v_custom)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(k, ', ' ORDER BY k) INTO v_bad
    FROM jsonb_object_keys(v_custom) AS k WHERE k <> ALL (ARRAY['connection', 'mappings', 'description', 'timezone']);
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'In %, customizations: unknown key(s) % (allowed: connection, mappings, description, timezone)',
            v_label, v_bad USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_custom ? 'connection' AND jsonb_typeof(v_custom -> 'connection') <> 'object' THEN
        RAISE EXCEPTION 'In %, customizations.connection: must be a JSON object, got %',
            v_label, jsonb_typeof(v_custom -> 'connection') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH v_key IN ARRAY ARRAY['description', 'timezone'] LOOP
        IF v_custom ? v_key AND jsonb_typeof(v_custom -> v_key) <> 'string' THEN
            RAISE EXCEPTION 'In %, customizations.%: must be a string, got %',
                v_label, v_key, jsonb_typeof(v_custom -> v_key) USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    v_overrides := coalesce(v_custom -> 'mappings', '{}'::jsonb);
    IF jsonb_typeof(v_overrides) <> 'object' THEN
        RAISE EXCEPTION 'In %, customizations.mappings: must be a JSON object {"<mapping name>": {...} | false}, got %',
            v_label, jsonb_typeof(v_overrides) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_key, v_item IN SELECT key, value FROM jsonb_each(v_overrides) LOOP
        IF jsonb_typeof(v_item) <> 'object' AND v_item <> 'false'::jsonb THEN
            RAISE EXCEPTION 'In %, customizations.mappings.%: must be an object (partial mapping) or false, got %',
                v_label, v_key, v_item USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF jsonb_typeof(v_item) = 'object' THEN
            SELECT string_agg(k, ', ' ORDER BY k) INTO v_bad
            FROM jsonb_object_keys(v_item) AS k WHERE k <> ALL (v_override_keys);
            IF v_bad IS NOT NULL THEN
                RAISE EXCEPTION 'In %, customizations.mappings.%: % cannot be overridden (allowed: %)',
                    v_label, v_key, v_bad, array_to_string(v_override_keys, ', ')
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END IF;
    END LOOP;

    -- template mappings: names present and unique
    FOR v_item, v_position IN
        SELECT value, ordinality FROM jsonb_array_elements(v_template.mapping_templates -> 'mappings') WITH ORDINALITY
    LOOP
        IF jsonb_typeof(v_item) <> 'object' THEN
            RAISE EXCEPTION 'In %, mapping #%: must be a JSON object, got %', v_label, v_position, v_item
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF jsonb_typeof(v_item -> 'name') IS DISTINCT FROM 'string' OR btrim(v_item ->> 'name') = '' THEN
            RAISE EXCEPTION 'In %, mapping #%: "name" is missing or not a non-empty string', v_label, v_position
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF (v_item ->> 'name') = ANY (v_names) THEN
            RAISE EXCEPTION 'In %, mapping `%`: the name is used by more than one mapping', v_label, v_item ->> 'name'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_names := v_names || (v_item ->> 'name');
    END LOOP;
    SELECT string_agg(format('`%s`', k), ', ' ORDER BY k) INTO v_bad
    FROM jsonb_object_keys(v_overrides) AS k WHERE k <> ALL (v_names);
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'In %, customizations.mappings: no mapping named % in the template', v_label, v_bad
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- the integration and the instance record
    BEGIN
        INSERT INTO integration_configs (
            integration_name, integration_type, description, connection_config, timezone,
            organization_id, created_by, updated_by
        ) VALUES (
            p_instance_name,
            v_template.integration_type,
            coalesce(v_custom ->> 'description', v_template.description),
            jsonb_deep_merge(v_template.connection_template, v_custom -> 'connection'),
            coalesce(v_custom ->> 'timezone', 'UTC'),
            p_organization_id,
            p_created_by,
            p_created_by
        ) RETURNING id INTO v_config_id;

        INSERT INTO integration_template_instances (
            template_id, config_id, instance_name, customizations, deployment_status, deployed_by, organization_id
        ) VALUES (
            p_template_id, v_config_id, p_instance_name, v_custom, 'draft', p_created_by, p_organization_id
        );
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_constraint = CONSTRAINT_NAME;
        RAISE EXCEPTION 'In %, instance `%`: %', v_label, p_instance_name, v_message
            USING ERRCODE = v_state, CONSTRAINT = coalesce(v_constraint, '');
    END;

    -- mappings
    FOR v_item IN SELECT value FROM jsonb_array_elements(v_template.mapping_templates -> 'mappings') LOOP
        v_name := v_item ->> 'name';
        v_override := v_overrides -> v_name;
        IF v_override = 'false'::jsonb OR v_override -> 'disabled' = 'true'::jsonb THEN
            CONTINUE;
        END IF;
        IF v_override IS NOT NULL THEN
            -- an override's transformation(_rules) replaces the template's, whatever its key
            IF v_override ?| ARRAY['transformation', 'transformation_rules'] THEN
                v_item := v_item - 'transformation' - 'transformation_rules';
            END IF;
            v_item := v_item || (v_override - 'disabled');
        END IF;
        FOREACH v_key IN ARRAY ARRAY['source_path', 'target_path'] LOOP
            IF jsonb_typeof(v_item -> v_key) IS DISTINCT FROM 'string' OR btrim(v_item ->> v_key) = '' THEN
                RAISE EXCEPTION 'In %, mapping `%`: "%" is missing or not a non-empty string', v_label, v_name, v_key
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END LOOP;
        BEGIN
            INSERT INTO integration_mappings (
                config_id, mapping_name, mapping_type, source_path, target_path,
                source_data_type, target_data_type, is_required, default_value,
                transformation_rules, validation_rules, mapping_direction, is_active,
                error_handling, mapping_notes, organization_id, created_by, updated_by
            ) VALUES (
                v_config_id,
                v_name,
                coalesce(v_item ->> 'mapping_type', 'field')::mapping_type,
                v_item ->> 'source_path',
                v_item ->> 'target_path',
                v_item ->> 'source_data_type',
                v_item ->> 'target_data_type',
                coalesce((v_item ->> 'is_required')::boolean, false),
                v_item ->> 'default_value',
                coalesce(NULLIF(v_item -> 'transformation_rules', 'null'::jsonb),
                         NULLIF(v_item -> 'transformation', 'null'::jsonb)),
                NULLIF(v_item -> 'validation_rules', 'null'::jsonb),
                coalesce(v_item ->> 'mapping_direction', 'inbound')::mapping_direction,
                coalesce((v_item ->> 'is_active')::boolean, true),
                coalesce(v_item ->> 'error_handling', 'fail')::mapping_error_handling,
                v_item ->> 'mapping_notes',
                p_organization_id,
                p_created_by,
                p_created_by
            ) RETURNING id INTO v_mapping_id;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_constraint = CONSTRAINT_NAME;
            RAISE EXCEPTION 'In %, mapping `%`: %', v_label, v_name, v_message
                USING ERRCODE = v_state, CONSTRAINT = coalesce(v_constraint, '');
        END;
        v_created := v_created || jsonb_build_object(v_name, v_mapping_id);
    END LOOP;

    -- mapping tests from the template's test suite
    IF v_template.test_suite ? 'tests' THEN
        IF jsonb_typeof(v_template.test_suite -> 'tests') <> 'array' THEN
            RAISE EXCEPTION 'In %, test_suite.tests: must be a JSON array, got %',
                v_label, jsonb_typeof(v_template.test_suite -> 'tests') USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR v_item, v_position IN
            SELECT value, ordinality FROM jsonb_array_elements(v_template.test_suite -> 'tests') WITH ORDINALITY
        LOOP
            IF jsonb_typeof(v_item) <> 'object' THEN
                RAISE EXCEPTION 'In %, test #%: must be a JSON object, got %', v_label, v_position, v_item
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            v_name := coalesce(v_item ->> 'name', format('#%s', v_position));
            IF jsonb_typeof(v_item -> 'name') IS DISTINCT FROM 'string' OR btrim(v_item ->> 'name') = '' THEN
                RAISE EXCEPTION 'In %, test %: "name" is missing or not a non-empty string', v_label, v_name
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF jsonb_typeof(v_item -> 'mapping') IS DISTINCT FROM 'string' THEN
                RAISE EXCEPTION 'In %, test `%`: "mapping" (the name of a template mapping) is missing', v_label, v_name
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF NOT ((v_item ->> 'mapping') = ANY (v_names)) THEN
                RAISE EXCEPTION 'In %, test `%`: no mapping named `%` in the template', v_label, v_name, v_item ->> 'mapping'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF NOT v_created ? (v_item ->> 'mapping') THEN
                CONTINUE;  -- its mapping was disabled by the customizations
            END IF;
            BEGIN
                INSERT INTO integration_mapping_tests (
                    mapping_id, test_name, test_type, input_data, expected_output,
                    organization_id, created_by, updated_by
                ) VALUES (
                    (v_created ->> (v_item ->> 'mapping'))::uuid,
                    v_name,
                    coalesce(v_item ->> 'test_type', 'unit')::mapping_test_type,
                    v_item -> 'input_data',
                    v_item -> 'expected_output',
                    p_organization_id,
                    p_created_by,
                    p_created_by
                );
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_constraint = CONSTRAINT_NAME;
                RAISE EXCEPTION 'In %, test `%` of mapping `%`: %', v_label, v_name, v_item ->> 'mapping', v_message
                    USING ERRCODE = v_state, CONSTRAINT = coalesce(v_constraint, '');
            END;
        END LOOP;
    END IF;

    RETURN v_config_id;
END
$$;
