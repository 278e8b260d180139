-- jobs: every job of the store. From job.json where it exists; otherwise derived from the
-- job's checkpoints and events (spec §4): startedAt = earliest event, finishedAt = latest
-- event once the job has ended, status from the last checkpoint. Wall time (duration_ms) runs
-- from the start to the finish, or to the latest event while running, and so includes the time
-- a job waited for a user's answer; active time (active_ms) is the time its steps ran (parallel
-- delegates' steps counted once). A job is
-- stale when it is still `running` but has had no event for more than an hour.
CREATE OR REPLACE VIEW jobs AS
WITH job_ids AS (
    SELECT job_id FROM job_files
    UNION
    SELECT job_id FROM checkpoints
    UNION
    SELECT job_id FROM events
),
event_facts AS (
    SELECT
        job_id,
        min(timestamp_ms) AS first_event_ms,
        max(timestamp_ms) AS last_event_ms,
        count(*) AS event_count,
        count(DISTINCT run_id) AS run_count,
        max(step_number) AS last_step,
        arg_min(expert_key, (timestamp_ms, file_name)) AS first_expert_key,
        arg_max(type, (timestamp_ms, file_name)) AS last_event_type
    FROM events
    GROUP BY job_id
),
step_spans AS (
    -- Active time counts each moment once: delegates run in parallel, and the sum of their
    -- steps would exceed the wall time. Overlapping steps merge into islands of work.
    SELECT
        job_id,
        epoch_ms(started_at) AS start_ms,
        epoch_ms(finished_at) AS end_ms,
        max(epoch_ms(finished_at)) OVER (
            PARTITION BY job_id
            ORDER BY started_at, finished_at
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS end_before_ms
    FROM steps
    WHERE started_at IS NOT NULL AND finished_at >= started_at
),
step_islands AS (
    SELECT
        job_id,
        start_ms,
        end_ms,
        sum(CASE WHEN end_before_ms IS NULL OR start_ms > end_before_ms THEN 1 ELSE 0 END)
            OVER (PARTITION BY job_id ORDER BY start_ms, end_ms) AS island
    FROM step_spans
),
step_facts AS (
    SELECT job_id, TRY_CAST(sum(island_ms) AS BIGINT) AS active_ms
    FROM (
        SELECT job_id, max(end_ms) - min(start_ms) AS island_ms
        FROM step_islands
        GROUP BY job_id, island
    )
    GROUP BY job_id
),
last_errors AS (
    -- The runtime writes an error only in the stopRunByError event of the run it stopped.
    SELECT
        job_id,
        arg_max(error_name, (timestamp_ms, file_name)) AS error_name,
        arg_max(error_message, (timestamp_ms, file_name)) AS error_message,
        arg_max(error_is_retryable, (timestamp_ms, file_name))
            AS error_is_retryable
    FROM events
    WHERE type = 'stopRunByError'
    GROUP BY job_id
),
checkpoint_facts AS (
    -- The original orders a job's checkpoints by stepNumber (stable over file names).
    SELECT
        job_id,
        count(*) AS checkpoint_count,
        arg_min(expert_key, (step_number, checkpoint_id)) AS first_expert_key,
        arg_max(status, (step_number, checkpoint_id)) AS last_status,
        arg_max(step_number, (step_number, checkpoint_id)) AS last_step,
        arg_max(
            {
                'input_tokens': input_tokens,
                'output_tokens': output_tokens,
                'reasoning_tokens': reasoning_tokens,
                'total_tokens': total_tokens,
                'cached_input_tokens': cached_input_tokens
            },
            (step_number, checkpoint_id)
        ) AS usage
    FROM checkpoints
    GROUP BY job_id
),
derived AS (
    SELECT
        i.job_id,
        CASE coalesce(
            c.last_status,
            CASE e.last_event_type
                WHEN 'completeRun' THEN 'completed'
                WHEN 'stopRunByError' THEN 'stoppedByError'
                WHEN 'stopRunByExceededMaxSteps' THEN 'stoppedByExceededMaxSteps'
                WHEN 'stopRunByInteractiveTool' THEN 'stoppedByInteractiveTool'
            END
        )
            WHEN 'completed' THEN 'completed'
            WHEN 'stoppedByError' THEN 'stoppedByError'
            WHEN 'stoppedByExceededMaxSteps' THEN 'stoppedByMaxSteps'
            WHEN 'stoppedByInteractiveTool' THEN 'stoppedByInteractiveTool'
            ELSE 'running'
        END AS status,
        coalesce(c.first_expert_key, e.first_expert_key) AS coordinator_expert_key,
        coalesce(c.last_step, e.last_step) AS total_steps,
        c.usage,
        e.first_event_ms,
        e.last_event_ms,
        coalesce(e.event_count, 0) AS event_count,
        coalesce(e.run_count, 0) AS run_count,
        coalesce(c.checkpoint_count, 0) AS checkpoint_count
    FROM job_ids AS i
    LEFT JOIN event_facts AS e USING (job_id)
    LEFT JOIN checkpoint_facts AS c USING (job_id)
)
SELECT
    d.job_id,
    coalesce(f.status, d.status) AS status,
    coalesce(f.coordinator_expert_key, d.coordinator_expert_key) AS coordinator_expert_key,
    coalesce(f.total_steps, d.total_steps) AS total_steps,
    f.max_steps,
    CASE WHEN f.job_id IS NULL THEN d.usage.input_tokens ELSE f.input_tokens END
        AS input_tokens,
    CASE WHEN f.job_id IS NULL THEN d.usage.output_tokens ELSE f.output_tokens END
        AS output_tokens,
    CASE WHEN f.job_id IS NULL THEN d.usage.reasoning_tokens ELSE f.reasoning_tokens END
        AS reasoning_tokens,
    CASE WHEN f.job_id IS NULL THEN d.usage.total_tokens ELSE f.total_tokens END
        AS total_tokens,
    CASE WHEN f.job_id IS NULL THEN d.usage.cached_input_tokens ELSE f.cached_input_tokens END
        AS cached_input_tokens,
    CASE WHEN f.job_id IS NULL THEN make_timestamp_ms(d.first_event_ms) ELSE f.started_at END
        AS started_at,
    CASE
        WHEN f.job_id IS NOT NULL THEN f.finished_at
        WHEN d.status <> 'running' THEN make_timestamp_ms(d.last_event_ms)
    END AS finished_at,
    make_timestamp_ms(d.last_event_ms) AS last_event_at,
    coalesce(
        epoch_ms(
            CASE
                WHEN f.job_id IS NOT NULL THEN f.finished_at
                WHEN d.status <> 'running' THEN make_timestamp_ms(d.last_event_ms)
            END
        ),
        d.last_event_ms
    ) - CASE WHEN f.job_id IS NULL THEN d.first_event_ms ELSE epoch_ms(f.started_at) END
        AS duration_ms,
    s.active_ms,
    coalesce(
        coalesce(f.status, d.status) = 'running'
        AND d.last_event_ms < epoch_ms(get_current_timestamp()) - 3600000,
        false
    ) AS is_stale,
    CASE WHEN coalesce(f.status, d.status) = 'stoppedByError' THEN x.error_name END
        AS error_name,
    CASE WHEN coalesce(f.status, d.status) = 'stoppedByError' THEN x.error_message END
        AS error_message,
    CASE WHEN coalesce(f.status, d.status) = 'stoppedByError' THEN x.error_is_retryable END
        AS error_is_retryable,
    d.run_count,
    d.checkpoint_count,
    d.event_count,
    f.job_id IS NOT NULL AS has_job_file,
    f.record
FROM derived AS d
LEFT JOIN job_files AS f USING (job_id)
LEFT JOIN step_facts AS s USING (job_id)
LEFT JOIN last_errors AS x USING (job_id);
