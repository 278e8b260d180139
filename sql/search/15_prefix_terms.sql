-- The indexed terms (lower-cased, stemmed) a prefix can stand for: those it begins, and the
-- stems that a longer word starting with it was cut down to (deploym... -> deploy).
SELECT term
FROM fts_main__search_documents.dict
WHERE
    starts_with(term, $prefix)
    OR (starts_with($prefix, term) AND length(term) >= greatest(length($prefix) - 3, 3));
