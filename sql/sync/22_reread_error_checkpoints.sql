-- A checkpoint's error columns are filled from the stopRunByError event that names it
-- (30_checkpoint_errors), not from its own file. When that event changed or left the store,
-- the checkpoint is read again: its row then holds what its file says, and what the events
-- still there add. Perstack only adds files, so this happens when a store is edited by hand.
-- The files to read again go into _sync_reread (27_reread_files takes them from there).
CREATE OR REPLACE TEMP TABLE _sync_reread AS
SELECT DISTINCT c.source_key AS key
FROM events AS e
JOIN checkpoints AS c
    ON c.job_id = e.job_id AND c.checkpoint_id = e.checkpoint_id
WHERE e.type = 'stopRunByError'
    AND e.source_key IN (SELECT key FROM _sync_stale)
    AND c.source_key NOT IN (SELECT key FROM _sync_stale);
