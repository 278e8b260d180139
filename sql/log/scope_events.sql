-- The events `perstack log` shows for one scope (a job, or one run of it), in the original's
-- order: by timestamp; ties keep the original's run order (run settings by updatedAt, newest
-- first, then run id) and then the file name. Filters, pagination and --context are applied
-- here: `kept` marks the paginated matches, the other rows are context. A record's conversations
-- are markers here (its messages are in `messages`): engine/conversations.py puts them back.
-- param: job_id  the job
-- param: run_id  one run of the job, or NULL for all its runs
-- param: offset  matches to skip (--offset)
-- param: take  matches to keep after the offset, 0 = all (--take)
-- param: context  events to add before and after each kept match (--context)
WITH scoped AS (
    SELECT
        e.record,
        e.source_key,
        e.type,
        e.step_number,
        row_number() OVER (
            ORDER BY e.timestamp_ms, s.updated_at DESC NULLS LAST, e.run_id, e.file_name
        ) AS position
    FROM events AS e
    LEFT JOIN run_settings AS s USING (job_id, run_id)
    WHERE e.job_id = $job_id AND ($run_id IS NULL OR e.run_id = $run_id)
),
matched AS (
    SELECT position, row_number() OVER (ORDER BY position) AS match_rank
    FROM scoped
    WHERE /* filters */ TRUE
),
kept AS (
    SELECT position
    FROM matched
    WHERE match_rank > $offset AND ($take = 0 OR match_rank <= $offset + $take)
),
shown AS (
    SELECT s.record, s.source_key, s.position, s.position IN (SELECT position FROM kept) AS kept
    FROM scoped AS s
    WHERE EXISTS (
        SELECT 1
        FROM kept AS k
        WHERE s.position BETWEEN k.position - $context AND k.position + $context
    )
)
-- One row even when nothing is shown (an offset past the end): the count is still reported.
SELECT shown.record, shown.source_key, shown.kept, totals.total_matched
FROM (SELECT count(*) AS total_matched FROM matched) AS totals
LEFT JOIN shown ON TRUE
ORDER BY shown.position;
