-- runs: every run of every job. A run is a runs/{runId}/ directory (spec §4), so runs come
-- from event files and run settings, never only from run settings as in the original.
-- A run is stale when it is still `running` but has had no event for more than an hour: the
-- process that ran it most likely died (a live step streams events much more often).
CREATE OR REPLACE VIEW runs AS
WITH run_ids AS (
    SELECT job_id, run_id FROM events
    UNION
    SELECT job_id, run_id FROM run_settings
),
event_facts AS (
    SELECT
        job_id,
        run_id,
        min(timestamp_ms) AS first_event_ms,
        max(timestamp_ms) AS last_event_ms,
        count(*) AS event_count,
        min(step_number) AS first_step,
        max(step_number) AS last_step,
        arg_min(expert_key, (timestamp_ms, file_name)) AS first_expert_key,
        arg_max(type, (timestamp_ms, file_name)) AS last_event_type
    FROM events
    GROUP BY job_id, run_id
),
start_events AS (
    SELECT
        job_id,
        run_id,
        arg_min(record ->> '$.initialCheckpoint.delegatedBy.runId', timestamp_ms) AS parent_run_id,
        arg_min(record ->> '$.initialCheckpoint.delegatedBy.expert.key', timestamp_ms)
            AS parent_expert_key
    FROM events
    WHERE type = 'startRun'
    GROUP BY job_id, run_id
),
errors AS (
    -- The runtime writes a run's error only in its stopRunByError event.
    SELECT
        job_id,
        run_id,
        arg_max(error_name, timestamp_ms) AS error_name,
        arg_max(error_message, timestamp_ms) AS error_message,
        arg_max(error_is_retryable, timestamp_ms)
            AS error_is_retryable
    FROM events
    WHERE type = 'stopRunByError'
    GROUP BY job_id, run_id
),
step_usage AS (
    SELECT
        job_id,
        run_id,
        count(*) AS step_count,
        TRY_CAST(sum(duration_ms) AS BIGINT) AS active_ms,
        TRY_CAST(sum(input_tokens) AS BIGINT) AS input_tokens,
        TRY_CAST(sum(output_tokens) AS BIGINT) AS output_tokens,
        TRY_CAST(sum(reasoning_tokens) AS BIGINT) AS reasoning_tokens,
        TRY_CAST(sum(total_tokens) AS BIGINT) AS total_tokens,
        TRY_CAST(sum(cached_input_tokens) AS BIGINT) AS cached_input_tokens
    FROM steps
    GROUP BY job_id, run_id
)
SELECT
    r.job_id,
    r.run_id,
    coalesce(s.expert_key, e.first_expert_key) AS expert_key,
    s.model,
    s.provider_name,
    CASE e.last_event_type
        WHEN 'completeRun' THEN 'completed'
        WHEN 'stopRunByError' THEN 'stoppedByError'
        WHEN 'stopRunByExceededMaxSteps' THEN 'stoppedByExceededMaxSteps'
        WHEN 'stopRunByInteractiveTool' THEN 'stoppedByInteractiveTool'
        WHEN 'stopRunByDelegate' THEN 'stoppedByDelegate'
        ELSE 'running'
    END AS status,
    e.last_event_type,
    x.error_name,
    x.error_message,
    x.error_is_retryable,
    make_timestamp_ms(e.first_event_ms) AS started_at,
    make_timestamp_ms(e.last_event_ms) AS last_event_at,
    e.last_event_ms - e.first_event_ms AS duration_ms,
    u.active_ms,
    coalesce(
        e.last_event_type NOT IN (
            'completeRun',
            'stopRunByError',
            'stopRunByExceededMaxSteps',
            'stopRunByInteractiveTool',
            'stopRunByDelegate'
        )
        AND e.last_event_ms < epoch_ms(get_current_timestamp()) - 3600000,
        false
    ) AS is_stale,
    coalesce(e.event_count, 0) AS event_count,
    e.first_step,
    e.last_step,
    coalesce(u.step_count, 0) AS step_count,
    u.input_tokens,
    u.output_tokens,
    u.reasoning_tokens,
    u.total_tokens,
    u.cached_input_tokens,
    st.parent_run_id,
    st.parent_expert_key,
    s.input_text,
    s.max_steps,
    s.source_key IS NOT NULL AS has_run_setting,
    s.settings
FROM run_ids AS r
LEFT JOIN event_facts AS e USING (job_id, run_id)
LEFT JOIN run_settings AS s USING (job_id, run_id)
LEFT JOIN start_events AS st USING (job_id, run_id)
LEFT JOIN errors AS x USING (job_id, run_id)
LEFT JOIN step_usage AS u USING (job_id, run_id);
