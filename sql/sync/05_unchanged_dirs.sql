-- The files of the directories that did not change since the last full listing: the same
-- entries, so they come from that listing (save those stat'ed again, already listed).
INSERT INTO _sync_listing
SELECT l.*
FROM _listing AS l
SEMI JOIN _sync_dirs AS d
    ON d.unchanged AND d.key = left(l.key, length(l.key) - strpos(reverse(l.key), '/') + 1)
ANTI JOIN _sync_listing AS listed
    ON listed.key = l.key;
