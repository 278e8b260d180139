-- The event files whose texts are not indexed yet (new, or changed since): only the event
-- types that carry text an agent said or saw (see 10_documents.sql).
CREATE OR REPLACE TABLE _search_pending AS
SELECT o.key AS source_key, o.version, o.size
FROM _objects AS o
ANTI JOIN _search_sources AS s ON s.source_key = o.key
WHERE
    o.kind = 'event'
    AND regexp_matches(
        o.key,
        '-(startRun|continueToNextStep|completeRun|stopRunBy[A-Za-z]+|retry)\.json$'
    );
