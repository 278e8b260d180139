-- The objects of some jobs as the last full listing saw them, as a sync's own listing: the
-- store was just found unchanged since (Database.sync as_listed), so listing the jobs again
-- would find the same. Returns the number of objects.
-- param: kinds    the kinds the sync reads, or NULL for all
-- param: job_ids  a JSON list of job ids (engine/database.py json_param)
INSERT INTO _sync_listing
SELECT *
FROM _listing
WHERE list_contains(from_json($job_ids, '["VARCHAR"]'), job_id)
    AND ($kinds IS NULL OR list_contains($kinds, kind));
