-- Whether the cache holds every object of the last full listing in its listed version: when it
-- does, and the store has not changed since, a sync has nothing to do.
SELECT count(*) = 0
FROM _listing AS l
ANTI JOIN _objects AS o
    ON o.key = l.key AND o.size = l.size AND o.version = l.version;
