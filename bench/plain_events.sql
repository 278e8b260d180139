-- Figure 1's reference row for decoding in the engine: the event files that make only an
-- events row (no conversation, tool call, tool result or step), decoded in SQL as
-- perstack_logq/decode/records.py decodes them. Input `event_files` (key, job_id, run_id,
-- file_name, file_type, size_bytes, body: the text with secrets masked); output the columns of
-- `events` and `accepted`. A file is accepted only when its columns are certain to be what the
-- Python decoder makes of it; any other (invalid JSON, a field of another type, a value out of
-- range, a conversation, a duplicate key, text DuckDB's parser reads and orjson does not) would
-- be left to that decoder. Each check parses the text again: DuckDB keeps JSON as text.
WITH parsed AS (
    SELECT
        *,
        CASE
            WHEN json_valid(body)
                -- DuckDB reads NaN, Infinity, trailing commas and exponents beyond a double,
                -- which orjson refuses, and nesting deeper than orjson's 1,024 levels: text
                -- that may hold any of them is not accepted. (A record that is not one object
                -- has no string `type`: not accepted either.)
                AND NOT regexp_matches(body, 'NaN|Infinity|,\s*[\]}]|[:,\[\s]-?[0-9.]+[eE][-+]?[0-9]{3}')
                AND (strlen(body) < 1024
                    OR strlen(body) - strlen(regexp_replace(body, '[\[{]', '', 'g')) < 1024)
            THEN json_extract(body, [
                '$.type', '$.timestamp', '$.stepNumber', '$.id', '$.expertKey', '$.usage',
                '$.error', '$.messages', '$.checkpoint', '$.initialCheckpoint',
                '$.nextCheckpoint'
            ])
        END AS f,
        CASE WHEN f IS NOT NULL THEN json_keys(body) END AS record_keys
    FROM event_files
),
typed AS (
    SELECT
        *,
        f[1] ->> '$' AS event_type,
        CASE WHEN json_type(f[2]) IN ('BIGINT', 'UBIGINT') THEN try_cast(f[2] AS BIGINT) END
            AS timestamp_ms,
        CASE WHEN json_type(f[3]) IN ('BIGINT', 'UBIGINT') THEN try_cast(f[3] AS BIGINT) END
            AS step_number,
        CASE WHEN json_type(f[6]) = 'OBJECT' THEN json_extract(f[6], [
            '$.inputTokens', '$.outputTokens', '$.reasoningTokens', '$.totalTokens',
            '$.cachedInputTokens'
        ]) END AS usage,
        CASE WHEN json_type(f[7]) = 'OBJECT' THEN json_extract(f[7], [
            '$.name', '$.message', '$.isRetryable'
        ]) END AS error
    FROM parsed
)
SELECT
    job_id,
    run_id,
    f[4] ->> '$' AS event_id,
    event_type AS type,
    step_number,
    make_timestamp_ms(timestamp_ms) AS event_time,
    timestamp_ms,
    f[5] ->> '$' AS expert_key,
    try_cast(usage[1] AS BIGINT) AS input_tokens,
    try_cast(usage[2] AS BIGINT) AS output_tokens,
    try_cast(usage[3] AS BIGINT) AS reasoning_tokens,
    try_cast(usage[4] AS BIGINT) AS total_tokens,
    try_cast(usage[5] AS BIGINT) AS cached_input_tokens,
    file_name,
    size_bytes,
    NULL::VARCHAR AS checkpoint_id,
    error[1] ->> '$' AS error_name,
    error[2] ->> '$' AS error_message,
    CASE WHEN json_type(error[3]) = 'BOOLEAN' THEN error[3]::BOOLEAN END AS error_is_retryable,
    body AS record,
    key AS source_key,
    coalesce(
        f IS NOT NULL
        AND len(record_keys) = len(list_distinct(record_keys))
        AND json_type(f[1]) = 'VARCHAR' AND event_type = file_type
        AND timestamp_ms BETWEEN 0 AND 253402300799999
        AND step_number IS NOT NULL
        AND coalesce(json_type(f[4]), 'NULL') IN ('VARCHAR', 'NULL')
        AND coalesce(json_type(f[5]), 'NULL') IN ('VARCHAR', 'NULL')
        -- usage and error: absent, null, or an object of fields of the right types.
        AND (coalesce(json_type(f[6]), 'NULL') = 'NULL' OR (
            usage IS NOT NULL
            AND len(json_keys(f[6])) = len(list_distinct(json_keys(f[6])))
            AND list_bool_and(list_transform(usage, value ->
                coalesce(json_type(value), 'NULL') = 'NULL'
                OR try_cast(value AS BIGINT) IS NOT NULL
                AND json_type(value) IN ('BIGINT', 'UBIGINT')))
        ))
        AND (coalesce(json_type(f[7]), 'NULL') = 'NULL' OR (
            error IS NOT NULL
            AND len(json_keys(f[7])) = len(list_distinct(json_keys(f[7])))
            AND coalesce(json_type(error[1]), 'NULL') IN ('VARCHAR', 'NULL')
            AND coalesce(json_type(error[2]), 'NULL') IN ('VARCHAR', 'NULL')
        ))
        AND f[8] IS NULL AND f[9] IS NULL AND f[10] IS NULL AND f[11] IS NULL,
        false
    ) AS accepted
FROM typed
