-- Search hits ranked by BM25: every document that holds each word ($required, stemmed, all of
-- them), each phrase ($phrases, as written) and each prefix ($prefixes, a word starting so),
-- within the filters.
-- param: terms  every word, phrase word and prefix expansion, for the BM25 score
-- param: required = NULL  the words and phrase words that must all occur
-- param: phrases = NULL  lower-cased phrases that must occur as written
-- param: prefixes = NULL  regular expressions, one per prefix, that must all match
-- param: job = NULL  only this job
-- param: expert = NULL  only this expert
-- param: type = NULL  only this kind of text or event type
-- param: since = NULL  only texts at or after this time
-- param: until = NULL  only texts before this time
-- param: limit = 20  at most this many hits
WITH candidates AS (
    SELECT
        d.*,
        fts_main__search_documents.match_bm25(d.doc_id, $terms) AS score
    FROM _search_documents AS d
    WHERE
        ($job IS NULL OR d.job_id = $job)
        AND ($expert IS NULL OR d.expert_key = $expert)
        AND ($type IS NULL OR d.kind = $type OR d.event_type = $type)
        AND ($since IS NULL OR d.event_time >= CAST($since AS TIMESTAMP))
        AND ($until IS NULL OR d.event_time < CAST($until AS TIMESTAMP))
)
SELECT
    score,
    job_id,
    run_id,
    step_number,
    event_time,
    event_type,
    kind,
    expert_key,
    label,
    text
FROM candidates
WHERE
    score IS NOT NULL
    AND (
        $required IS NULL
        OR fts_main__search_documents.match_bm25(doc_id, $required, conjunctive := 1) IS NOT NULL
    )
    AND ($phrases IS NULL OR list_bool_and([contains(lower(text), p) FOR p IN $phrases]))
    AND ($prefixes IS NULL OR list_bool_and([regexp_matches(text, p) FOR p IN $prefixes]))
ORDER BY score DESC, event_time, job_id
LIMIT CAST($limit AS BIGINT);
