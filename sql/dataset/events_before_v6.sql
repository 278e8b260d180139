-- The columns of `events` that a dataset exported before schema version 6 lacks, derived from
-- `record` the way the decoder derives them (decode/records.py), so that canned queries run
-- unchanged on it: a select list, added to its `events` view (views/dataset.py).
record ->> '$.checkpoint.id' AS checkpoint_id,
record ->> '$.error.name' AS error_name,
record ->> '$.error.message' AS error_message,
CASE
    WHEN json_type(record -> '$.error.isRetryable') = 'BOOLEAN'
        THEN CAST(record -> '$.error.isRetryable' AS BOOLEAN)
END AS error_is_retryable
