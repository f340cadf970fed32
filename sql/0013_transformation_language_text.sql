-- 0013: integration_transformations.language becomes text, so engines added through the
-- `integration_orchestrator.engines` entry point are usable from reusable transformation
-- rows, not only from inline steps. Which languages exist is decided when the code
-- location loads (the engines registered there; an unknown one is an invalid row naming
-- the transformation); the column only keeps the value a plausible engine name.
-- The transformation_language type stays: it lists the built-in languages.

ALTER TABLE integration_transformations
    ALTER COLUMN language TYPE text USING language::text;

ALTER TABLE integration_transformations
    ADD CONSTRAINT integration_transformations_language_name
    CHECK (language ~ '^[a-z][a-z0-9_.-]{0,62}$');
