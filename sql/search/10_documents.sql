-- The texts of the events listed in _search_batch: what the user asked (startRun), what the
-- expert said, reasoned and called and what its tools answered (the step's new messages of
-- every step-closing event), errors (stopRunByError, retry) and run results (completeRun).
-- Run settings are never read: their secrets cannot reach the index. TRY_CAST: a list that is
-- not a list in some file (a broken or hostile store) holds nothing to search, not an error.
INSERT INTO _search_documents
WITH batch AS (
    SELECT e.job_id, e.run_id, e.step_number, e.event_time, e.type, e.expert_key, e.record,
        e.source_key
    FROM events AS e
    SEMI JOIN _search_batch AS b ON e.source_key = b.source_key
),
messages AS (
    SELECT batch.* EXCLUDE (record),
        unnest(TRY_CAST(record -> '$.inputMessages' AS JSON[])) AS message
    FROM batch
    WHERE type = 'startRun'
    UNION ALL
    SELECT batch.* EXCLUDE (record),
        unnest(TRY_CAST(record -> '$.step.newMessages' AS JSON[])) AS message
    FROM batch
    WHERE type IN (
        'continueToNextStep', 'completeRun', 'stopRunByError', 'stopRunByDelegate',
        'stopRunByExceededMaxSteps', 'stopRunByInteractiveTool'
    )
),
parts AS (
    SELECT messages.* EXCLUDE (message), message ->> 'type' AS message_type,
        unnest(TRY_CAST(message -> '$.contents' AS JSON[])) AS part
    FROM messages
    WHERE message ->> 'type' IN ('userMessage', 'expertMessage', 'toolMessage')
),
texts AS (
    SELECT
        job_id, run_id, step_number, event_time, type AS event_type,
        CASE part ->> 'type'
            WHEN 'textPart' THEN message_type
            WHEN 'thinkingPart' THEN 'reasoning'
            WHEN 'toolCallPart' THEN 'toolCall'
            WHEN 'toolResultPart' THEN 'toolResult'
        END AS kind,
        expert_key,
        part ->> 'toolName' AS label,
        CASE part ->> 'type'
            WHEN 'textPart' THEN part ->> 'text'
            WHEN 'thinkingPart' THEN part ->> 'thinking'
            WHEN 'toolCallPart' THEN CAST(part -> '$.args' AS VARCHAR)
            WHEN 'toolResultPart' THEN (
                SELECT string_agg(inner_part ->> 'text', chr(10))
                FROM unnest(TRY_CAST(part -> '$.contents' AS JSON[])) AS inner_parts(inner_part)
                WHERE inner_part ->> 'type' = 'textPart'
            )
        END AS text,
        source_key
    FROM parts
    UNION ALL
    SELECT job_id, run_id, step_number, event_time, type, 'error', expert_key,
        coalesce(record ->> '$.error.name', 'retry'),
        coalesce(record ->> '$.error.message', record ->> '$.reason'), source_key
    FROM batch
    WHERE type IN ('stopRunByError', 'retry')
    UNION ALL
    SELECT job_id, run_id, step_number, event_time, type, 'runResult', expert_key, NULL,
        record ->> '$.text', source_key
    FROM batch
    WHERE type = 'completeRun'
)
SELECT nextval('_search_document_ids'), *
FROM texts
WHERE kind IS NOT NULL AND text IS NOT NULL AND trim(text) <> '';
