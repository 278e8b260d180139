-- The directories of a full listing become the known ones: rows that left or changed go, new
-- ones come. Run in the transaction that replaces the listing (06_replace_listing*): trusted
-- directories over a listing not replaced would hide its files from the next sync.
DELETE FROM _dirs AS d
WHERE NOT EXISTS (
    SELECT 1 FROM _sync_dirs AS s
    WHERE s.key = d.key AND s.mtime_ns = d.mtime_ns AND s.settled = d.settled
);
INSERT INTO _dirs
SELECT s.key, s.mtime_ns, s.settled FROM _sync_dirs AS s ANTI JOIN _dirs AS d ON d.key = s.key;
