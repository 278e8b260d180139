-- The two small tables the cost views price with, rewritten by perstack_logq.cost.pricing
-- before every cost query: prices can change without a new sync, so no cost is stored.
-- _prices: USD per million tokens of a (model, provider) over [valid_from, valid_until).
CREATE TABLE IF NOT EXISTS _prices (
    model VARCHAR,
    provider_name VARCHAR,
    valid_from TIMESTAMP,
    valid_until TIMESTAMP,
    input_per_mtok DOUBLE,
    output_per_mtok DOUBLE,
    cache_read_per_mtok DOUBLE,
    cache_write_per_mtok DOUBLE,
    price_source VARCHAR
);
-- _cost_settings: one row, the models a run without a run setting falls back to (perstack.toml,
-- then --model) and the model a "what would it have cost" question reprices with.
CREATE TABLE IF NOT EXISTS _cost_settings (
    config_model VARCHAR,
    config_provider VARCHAR,
    option_model VARCHAR,
    option_provider VARCHAR,
    reprice_model VARCHAR,
    reprice_provider VARCHAR
);
