-- 0005 tenancy: the application role integration_app (non-owner) and row-level security
-- on every tenant table, keyed on organization_id = current_organization_id(), i.e. the
-- per-transaction setting integration.organization_id (see tenant_transaction()).
--
--   * tenant tables: the app reads and writes only its organization's rows;
--   * integration_templates: system templates (organization_id NULL) are readable by
--     every organization, writable by none (only by the owner);
--   * integration_config_history: read-only (written by a SECURITY DEFINER trigger);
--   * organizations: the app sees its own organization row only.
-- The owner (the role running the migrations) is not subject to RLS.

-- Roles are cluster-wide and many databases are migrated concurrently: be idempotent
-- and tolerate another session creating/granting the role at the same moment.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'integration_app') THEN
        BEGIN
            CREATE ROLE integration_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'integration_app', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT integration_app TO %I', current_user);
        EXCEPTION WHEN OTHERS THEN
            IF NOT pg_has_role(current_user, 'integration_app', 'MEMBER') THEN
                RAISE;
            END IF;
        END;
    END IF;
END
$$;

DO $$
DECLARE
    v_schema text := current_schema();
    v_table text;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO integration_app', v_schema);

    -- every table with organization_id, except the three special ones below
    FOR v_table IN
        SELECT c.relname
        FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped
        WHERE c.relkind = 'r' AND c.relnamespace = v_schema::regnamespace
          AND c.relname NOT IN ('integration_templates', 'integration_config_history')
        ORDER BY c.relname
    LOOP
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

-- Templates: own ones read/write, system ones read-only.
GRANT SELECT, INSERT, UPDATE, DELETE ON integration_templates TO integration_app;
ALTER TABLE integration_templates ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration_templates TO integration_app
    USING (organization_id = (SELECT current_organization_id()))
    WITH CHECK (organization_id = (SELECT current_organization_id()));
CREATE POLICY system_templates_readable ON integration_templates FOR SELECT TO integration_app
    USING (organization_id IS NULL);

-- Configuration history: read-only for the application.
GRANT SELECT ON integration_config_history TO integration_app;
ALTER TABLE integration_config_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration_config_history FOR SELECT TO integration_app
    USING (organization_id = (SELECT current_organization_id()));

-- Organizations: the app sees (and may rename) its own organization only.
GRANT SELECT, UPDATE (name, settings) ON organizations TO integration_app;
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations TO integration_app
    USING (id = (SELECT current_organization_id()))
    WITH CHECK (id = (SELECT current_organization_id()));
