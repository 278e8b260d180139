-- Checkpoint errors from the stopRunByError events: the runtime writes a run's error only in
-- that event (its `checkpoint.id` names the checkpoint), never in the checkpoint file, so a
-- checkpoint's error columns are filled from the event once both are in the tables.
UPDATE checkpoints AS c
SET
    error_name = json_extract_string(e.record, '$.error.name'),
    error_message = json_extract_string(e.record, '$.error.message'),
    error_is_retryable = CAST(json_extract(e.record, '$.error.isRetryable') AS BOOLEAN)
FROM events AS e
WHERE e.type = 'stopRunByError'
    AND e.job_id = c.job_id
    AND json_extract_string(e.record, '$.checkpoint.id') = c.checkpoint_id
    AND c.error_name IS NULL
    AND json_extract_string(e.record, '$.error.name') IS NOT NULL;
