-- A message's row belongs to the first file that held it (messages.source_key). When that file
-- changed or left the store, later files of its job may hold the same messages: the job's
-- checkpoints and events are read again. Perstack only adds these files, so this happens when
-- a store is edited by hand; a job is bounded, and so is the work. The files to read again go
-- into _sync_reread (27_reread_files takes them from there).
CREATE OR REPLACE TEMP TABLE _sync_reread AS
SELECT o.key
FROM _objects AS o
WHERE o.kind IN ('checkpoint', 'event')
    AND o.job_id IN (
        SELECT m.job_id FROM messages AS m WHERE m.source_key IN (SELECT key FROM _sync_stale)
    )
    AND o.key NOT IN (SELECT key FROM _sync_stale);
