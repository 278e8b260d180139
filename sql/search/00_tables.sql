-- The searchable texts, one row per text part an agent said or saw, appended as the events
-- that carry them are indexed (perstack_logq.search.index), and what has been indexed.
CREATE SEQUENCE IF NOT EXISTS _search_document_ids;
CREATE TABLE IF NOT EXISTS _search_documents (
    doc_id BIGINT,
    job_id VARCHAR,
    run_id VARCHAR,
    step_number BIGINT,
    event_time TIMESTAMP,
    event_type VARCHAR,
    kind VARCHAR,
    expert_key VARCHAR,
    label VARCHAR,
    text VARCHAR,
    source_key VARCHAR
);
-- _search_sources: the event files whose texts are in _search_documents, at which version.
CREATE TABLE IF NOT EXISTS _search_sources (source_key VARCHAR, version VARCHAR);
-- _search_state: one row, the documents' generation and the generation the fts index holds.
CREATE TABLE IF NOT EXISTS _search_state (generation BIGINT, indexed_generation BIGINT);
