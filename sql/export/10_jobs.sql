-- export jobs: every job of one shard, with the batch its rows are written in (the UTC date it
-- started, "undated" when unknown), whether --since/--until select it, and a fingerprint of
-- the stored objects it was decoded from (changes whenever one of its files is added, changed
-- or removed). Shard = first 8 hex digits of sha1(job_id) as a number, mod the shard count.
-- param: shard_index = 0  which shard, 0-based
-- param: shard_count = 1  how many shards
-- param: since  jobs started at or after (naive UTC; NULL: no bound)
-- param: until  jobs started before (naive UTC; NULL: no bound)
-- param: single_batch = false  every job in one batch, "all" (--partition-by none: one file)
CREATE OR REPLACE TEMP TABLE _export_jobs AS
WITH fingerprints AS (
    SELECT
        job_id,
        md5(string_agg(key || '|' || size || '|' || version, chr(10) ORDER BY key)) AS fingerprint
    FROM _objects
    GROUP BY job_id
)
SELECT
    j.job_id,
    j.status,
    CAST(j.started_at AS DATE) AS job_date,
    CASE
        WHEN $single_batch THEN 'all'
        ELSE coalesce(strftime(j.started_at, '%Y%m%d'), 'undated')
    END AS batch,
    f.fingerprint,
    ($since IS NULL OR j.started_at >= $since) AND ($until IS NULL OR j.started_at < $until)
        AS in_scope
FROM jobs AS j
LEFT JOIN fingerprints AS f USING (job_id)
WHERE CAST('0x' || substr(sha1(j.job_id), 1, 8) AS UBIGINT) % $shard_count = $shard_index;
