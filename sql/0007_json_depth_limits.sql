-- 0007 hostile input: the JSON columns of the configuration tables nest at most 100 levels.
--
-- PostgreSQL itself refuses documents nested ~10^4+ levels ("stack depth limit exceeded"),
-- but it stores a few thousand levels, which no JSON parser of the platform (Python's json,
-- psycopg's jsonb loader, the factory's validators) can read back: one such row would make
-- every code location fail to load. A CHECK per column refuses it at write time instead,
-- naming the column in the constraint (json_depth_<column>).
--
-- NOT VALID: enforced for every new or updated row; rows stored before this migration are
-- not re-checked (an upgrade never fails on old data).
-- Runtime data (executions, dead letters, events, notifications, mapping test actual_output)
-- is not limited here: records are checked where they are read (connectors, factory).

DO $$
DECLARE
    v_column record;
BEGIN
    FOR v_column IN
        SELECT c.table_name, c.column_name
        FROM information_schema.columns c
        WHERE c.table_schema = current_schema()
          AND c.data_type = 'jsonb'
          AND c.table_name IN ('integration_configs', 'integration_mappings', 'integration_mapping_tests',
                               'integration_transformations', 'integration_pipeline_definitions',
                               'integration_schedules', 'integration_templates', 'integration_template_instances')
          AND c.column_name <> 'actual_output'
        ORDER BY c.table_name, c.column_name
    LOOP
        EXECUTE format(
            'ALTER TABLE %I ADD CONSTRAINT %I CHECK (NOT jsonb_path_exists(%I, %L)) NOT VALID',
            v_column.table_name, 'json_depth_' || v_column.column_name, v_column.column_name, 'strict $.**{101}');
    END LOOP;
END
$$;
