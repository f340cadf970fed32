-- An event that no event schedule of its integration accepts (execution_parameters.event_types)
-- is marked `skipped`, with the reason in error_message, instead of staying `pending` forever.
ALTER TYPE event_status ADD VALUE IF NOT EXISTS 'skipped';
