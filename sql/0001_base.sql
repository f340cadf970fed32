-- 0001 base: helper functions, every enum type, and the base tables the seed refers to
-- (organizations, users, integration_configs).
--
-- Conventions used by every migration:
--   * ids are UUIDs from gen_random_uuid() (core PostgreSQL, no extension needed);
--   * every tenant row carries organization_id, defaulting to the organization of the
--     current application transaction (setting integration.organization_id);
--   * children reference their tenant parents by (id, organization_id) so that a row can
--     never point at another organization's row;
--   * created_at/updated_at are maintained by triggers (0004), never by the client.

-- uuid_generate_v4() for code written against the seed (uuid-ossp) -- only if absent.
DO $$
BEGIN
    IF to_regprocedure('uuid_generate_v4()') IS NULL THEN
        EXECUTE 'CREATE FUNCTION uuid_generate_v4() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE '
                'AS ''SELECT gen_random_uuid()''';
    END IF;
END
$$;

-- The organization of the current application transaction (NULL when unset).
CREATE FUNCTION current_organization_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT NULLIF(current_setting('integration.organization_id', true), '')::uuid
$$;
COMMENT ON FUNCTION current_organization_id() IS
    'Organization of the current transaction: setting integration.organization_id (see tenant_transaction).';

-- True when tz is a time zone name PostgreSQL knows (IANA names such as Europe/Berlin, UTC).
-- pg_timezone_names reads the whole zone database (tens of ms), so names found valid are
-- remembered for the session in the setting integration.known_timezones.
CREATE FUNCTION is_valid_timezone_name(tz text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_cache text := coalesce(current_setting('integration.known_timezones', true), '');
BEGIN
    IF tz IS NULL OR tz !~ '^[A-Za-z][A-Za-z0-9_+/-]*$' THEN
        RETURN false;
    END IF;
    IF position('|' || tz || '|' IN v_cache) > 0 THEN
        RETURN true;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz) THEN
        RETURN false;
    END IF;
    PERFORM set_config('integration.known_timezones',
                       CASE WHEN v_cache = '' THEN '|' ELSE v_cache END || tz || '|', false);
    RETURN true;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Enum types: exactly the seed's values (seed tables), plus the platform's own.
-- ---------------------------------------------------------------------------------------
CREATE TYPE mapping_type AS ENUM ('field', 'object', 'array', 'custom');
CREATE TYPE mapping_direction AS ENUM ('inbound', 'outbound', 'bidirectional');
CREATE TYPE mapping_error_handling AS ENUM ('fail', 'skip', 'default', 'null');
CREATE TYPE mapping_test_type AS ENUM ('unit', 'integration', 'edge_case', 'performance');
CREATE TYPE mapping_test_status AS ENUM ('pending', 'passed', 'failed', 'skipped');
CREATE TYPE schedule_type AS ENUM ('cron', 'interval', 'fixed_time', 'event_based', 'manual');
CREATE TYPE missed_execution_policy AS ENUM ('run_once', 'run_all', 'skip');
CREATE TYPE schedule_execution_status AS ENUM
    ('scheduled', 'running', 'completed', 'failed', 'cancelled', 'skipped');
CREATE TYPE template_category AS ENUM ('compliance', 'security', 'hr', 'finance', 'operations', 'custom');
CREATE TYPE deployment_status AS ENUM ('draft', 'testing', 'active', 'deprecated');
CREATE TYPE transformation_type AS ENUM ('map', 'filter', 'aggregate', 'enrich', 'validate', 'custom');
CREATE TYPE transformation_language AS ENUM ('jmespath', 'jsonpath', 'javascript', 'python', 'sql');
CREATE TYPE performance_tier AS ENUM ('lightweight', 'standard', 'heavy');
CREATE TYPE pipeline_type AS ENUM ('linear', 'conditional', 'parallel', 'hybrid');
CREATE TYPE error_handling_strategy AS ENUM ('fail_fast', 'continue_on_error', 'dead_letter', 'retry');
-- platform
CREATE TYPE execution_status AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');
CREATE TYPE event_status AS ENUM ('pending', 'consumed', 'failed');
CREATE TYPE dead_letter_status AS ENUM ('pending', 'replayed', 'discarded');
CREATE TYPE notification_status AS ENUM ('pending', 'sent', 'failed');
CREATE TYPE history_operation AS ENUM ('insert', 'update', 'delete');

-- ---------------------------------------------------------------------------------------
-- organizations, users
-- ---------------------------------------------------------------------------------------
CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    slug        text,
    is_active   boolean NOT NULL DEFAULT true,
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organizations_slug_key UNIQUE (slug),
    CONSTRAINT valid_organization_name CHECK (btrim(name) <> ''),
    CONSTRAINT valid_organization_slug CHECK (slug ~ '^[a-z0-9][a-z0-9_-]*$'),
    CONSTRAINT valid_organization_settings CHECK (jsonb_typeof(settings) = 'object')
);

CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL DEFAULT current_organization_id()
                    REFERENCES organizations(id) ON DELETE CASCADE,
    email           text NOT NULL,
    display_name    text,
    is_active       boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT valid_user_email CHECK (email ~ '^[^@\s]+@[^@\s]+$')
);
CREATE INDEX idx_users_organization ON users (organization_id);

-- ---------------------------------------------------------------------------------------
-- integration_configs: one integration (source -> target) of an organization
-- ---------------------------------------------------------------------------------------
CREATE TABLE integration_configs (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    integration_name  text NOT NULL,
    integration_type  text NOT NULL,
    description       text,
    connection_config jsonb NOT NULL DEFAULT '{}'::jsonb,
    timezone          text NOT NULL DEFAULT 'UTC',
    is_active         boolean NOT NULL DEFAULT true,
    organization_id   uuid NOT NULL DEFAULT current_organization_id()
                      REFERENCES organizations(id) ON DELETE CASCADE,
    created_by        uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_by        uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    version           integer NOT NULL DEFAULT 1,
    CONSTRAINT integration_configs_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT valid_integration_name CHECK (btrim(integration_name) <> ''),
    CONSTRAINT valid_integration_type CHECK (btrim(integration_type) <> ''),
    CONSTRAINT valid_connection_config CHECK (jsonb_typeof(connection_config) = 'object'),
    CONSTRAINT valid_connection_endpoints CHECK (
        coalesce(jsonb_typeof(connection_config -> 'source'), 'object') = 'object'
        AND coalesce(jsonb_typeof(connection_config -> 'target'), 'object') = 'object'
    ),
    CONSTRAINT valid_config_timezone CHECK (is_valid_timezone_name(timezone)),
    CONSTRAINT valid_config_version CHECK (version >= 1)
);
CREATE INDEX idx_integration_configs_organization ON integration_configs (organization_id, is_active);
COMMENT ON COLUMN integration_configs.connection_config IS
    'JSON object {"source": {"type": ...}, "target": {"type": ...}}; secrets as {"$secret": "name"} (integration_credentials).';
