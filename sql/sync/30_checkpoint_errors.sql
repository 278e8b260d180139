-- Checkpoint errors from the stopRunByError events: the runtime writes a run's error only in
-- that event (its `checkpoint.id` names the checkpoint), never in the checkpoint file, so a
-- checkpoint's error columns are filled from the event once both are in the tables. The
-- event's own columns hold what this needs: reading `record` (all events' column) took 0.1 s
-- of every sync that read anything, for a few rows.
UPDATE checkpoints AS c
SET
    error_name = e.error_name,
    error_message = e.error_message,
    error_is_retryable = e.error_is_retryable
FROM events AS e
WHERE e.type = 'stopRunByError'
    AND e.job_id = c.job_id
    AND e.checkpoint_id = c.checkpoint_id
    AND c.error_name IS NULL
    AND e.error_name IS NOT NULL;
