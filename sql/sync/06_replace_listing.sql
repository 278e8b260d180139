-- A full listing becomes the last full listing: rows that left or changed go, new ones come
-- (rewriting the whole table would make each sync's checkpoint write every row again);
-- likewise the listing's files rewritten in place. Its directories: 06_replace_dirs.
DELETE FROM _listing AS l
WHERE NOT EXISTS (
    SELECT 1 FROM _sync_listing AS s
    WHERE s.key = l.key AND s.size = l.size AND s.version = l.version
);
INSERT INTO _listing
SELECT s.* FROM _sync_listing AS s ANTI JOIN _listing AS l ON l.key = s.key;
DELETE FROM _listing_rewritten AS r
WHERE NOT EXISTS (
    SELECT 1 FROM _listing AS l
    WHERE l.key = r.key AND l.size = r.size AND l.version = r.version
);
INSERT INTO _listing_rewritten
SELECT l.key, l.size, l.version
FROM _listing AS l ANTI JOIN _listing_rewritten AS r ON r.key = l.key
WHERE l.kind IN ('job', 'run_setting');
