-- The delegation tree of a job: its runs, who delegated to whom, with status, steps and tokens
-- param: job_id  the job to show (required)
-- A run delegated by another run (its startRun names the parent in delegatedBy) sits under
-- its parent; the other runs are roots, in start order: the coordinator's first run, then the
-- runs that resumed it (after delegates returned, an interactive answer or --continue-job).
WITH RECURSIVE job_runs AS (
    SELECT * FROM runs WHERE job_id = CAST($job_id AS VARCHAR)
),
start_queries AS (
    -- What each run was asked: the delegating call's query, else the user message it started on.
    SELECT
        e.run_id,
        arg_min(
            coalesce(
                c.args ->> 'query',
                CASE
                    WHEN e.record ->> '$.inputMessages[#-1].type' = 'userMessage'
                        THEN e.record ->> '$.inputMessages[#-1].contents[0].text'
                END
            ),
            e.timestamp_ms
        ) AS query
    FROM events AS e
    LEFT JOIN tool_calls AS c
        ON c.job_id = e.job_id
        AND c.kind = 'callDelegate'
        AND c.tool_call_id = (e.record ->> '$.initialCheckpoint.delegatedBy.toolCallId')
    WHERE e.job_id = CAST($job_id AS VARCHAR) AND e.type = 'startRun'
    GROUP BY e.run_id
),
roots AS (
    SELECT
        r.run_id,
        row_number() OVER (ORDER BY r.started_at NULLS LAST, r.run_id) AS root_order
    FROM job_runs AS r
    WHERE r.parent_run_id IS NULL
       OR r.parent_run_id NOT IN (SELECT run_id FROM job_runs)
),
tree AS (
    SELECT
        r.run_id,
        0 AS depth,
        [lpad(CAST(o.root_order AS VARCHAR), 6, '0')] AS sort_path,
        CASE WHEN o.root_order = 1 THEN 'root' ELSE 'resumed' END AS relation
    FROM job_runs AS r
    JOIN roots AS o USING (run_id)
    UNION ALL
    SELECT
        child.run_id,
        t.depth + 1,
        list_append(
            t.sort_path,
            strftime(coalesce(child.started_at, TIMESTAMP '1970-01-01'), '%Y%m%d%H%M%S.%f')
                || child.run_id
        ),
        'delegate'
    FROM tree AS t
    JOIN job_runs AS child ON child.parent_run_id = t.run_id
    WHERE t.depth < 64
)
SELECT
    t.depth,
    repeat('  ', t.depth) || coalesce(r.expert_key, '?') AS tree,
    t.relation,
    r.run_id,
    r.parent_run_id,
    r.expert_key,
    r.parent_expert_key,
    r.status,
    r.started_at,
    r.last_event_at,
    r.duration_ms,
    r.first_step,
    r.last_step,
    r.step_count,
    TRY_CAST(r.total_tokens AS BIGINT) AS total_tokens,
    coalesce(q.query, r.input_text) AS query
FROM tree AS t
JOIN job_runs AS r USING (run_id)
LEFT JOIN start_queries AS q USING (run_id)
ORDER BY t.sort_path
