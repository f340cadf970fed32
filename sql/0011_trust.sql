-- Issue 17 (trust gaps): mapping tests declare their direction; recipients may opt out of
-- failure notifications of runs launched by hand.
--
-- integration_mapping_tests.test_direction: NULL runs the test in its mapping's own
-- direction (inbound for a bidirectional mapping); 'outbound' runs a bidirectional mapping's
-- derived inverse, so a round trip is two test rows (ARCHITECTURE.md §6.3).
ALTER TABLE integration_mapping_tests ADD COLUMN test_direction text;
ALTER TABLE integration_mapping_tests
    ADD CONSTRAINT valid_test_direction CHECK (test_direction IN ('inbound', 'outbound'));

-- users.notify_on_manual_runs: false = no failure notification for runs launched by hand
-- (`dagster job launch`, the UI); schedule, sensor and re-execution failures still notify.
ALTER TABLE users ADD COLUMN notify_on_manual_runs boolean NOT NULL DEFAULT true;
