-- messages: the conversation held by each checkpoint, one row per message. Every
-- checkpoint holds the whole conversation so far, so filter on the checkpoint you want
-- (e.g. the last one of a run) rather than counting rows across checkpoints.
CREATE OR REPLACE VIEW messages AS
SELECT
    job_id,
    run_id,
    checkpoint_id,
    step_number,
    position,
    message ->> 'id' AS message_id,
    message ->> 'type' AS type,
    (
        SELECT string_agg(part ->> 'text', chr(10))
        FROM unnest(CAST(message -> 'contents' AS JSON[])) AS parts(part)
        WHERE part ->> 'type' = 'textPart'
    ) AS text,
    message -> 'contents' AS contents,
    source_key
FROM (
    SELECT
        job_id,
        run_id,
        checkpoint_id,
        step_number,
        source_key,
        unnest(CAST(record -> 'messages' AS JSON[])) AS message,
        unnest(range(CAST(json_array_length(record, '$.messages') AS BIGINT))) AS position
    FROM checkpoints
);
