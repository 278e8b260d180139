-- The objects of a scope (some kinds, some jobs) as the last full listing saw them, as a sync's
-- own listing: the store was just found unchanged since (Database.sync as_listed), so listing
-- them again would find the same. Returns the number of objects.
-- param: kinds    the kinds of the scope, or NULL for all
-- param: job_ids  a JSON list of the jobs of the scope (engine/database.py json_param), or NULL
INSERT INTO _sync_listing
SELECT *
FROM _listing
WHERE ($job_ids IS NULL OR list_contains(from_json($job_ids, '["VARCHAR"]'), job_id))
    AND ($kinds IS NULL OR list_contains($kinds, kind));
