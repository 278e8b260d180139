-- The files a reread rule put in _sync_reread (22_reread_error_checkpoints,
-- 25_reread_conversations): their rows go as a stale file's do, and they are read again as a
-- pending file is, in the version the listing saw.
INSERT INTO _sync_stale SELECT key FROM _sync_reread;

INSERT INTO _sync_pending
SELECT l.key, l.job_id, l.kind, l.size, l.version
FROM _sync_listing AS l
SEMI JOIN _sync_reread AS r ON l.key = r.key;

DROP TABLE _sync_reread;
