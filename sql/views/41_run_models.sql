-- _run_models (internal): the model each run ran on and where that was found: its run
-- setting, else perstack.toml's model (with [provider]), else --model, else unknown.
CREATE OR REPLACE VIEW _run_models AS
WITH run_ids AS (
    SELECT DISTINCT job_id, run_id FROM events
    UNION
    SELECT job_id, run_id FROM run_settings
),
chosen AS (
    SELECT
        i.job_id,
        i.run_id,
        CASE
            WHEN r.model IS NOT NULL THEN 'run_setting'
            WHEN c.config_model IS NOT NULL THEN 'config'
            WHEN c.option_model IS NOT NULL THEN 'option'
            ELSE 'unknown'
        END AS model_source,
        r.model AS setting_model,
        r.provider_name AS setting_provider,
        c.*
    FROM run_ids AS i
    LEFT JOIN run_settings AS r USING (job_id, run_id)
    LEFT JOIN (SELECT * FROM _cost_settings LIMIT 1) AS c ON true
)
SELECT
    job_id,
    run_id,
    CASE model_source
        WHEN 'run_setting' THEN setting_model
        WHEN 'config' THEN config_model
        WHEN 'option' THEN option_model
    END AS model,
    CASE model_source
        WHEN 'run_setting' THEN setting_provider
        WHEN 'config' THEN config_provider
        WHEN 'option' THEN option_provider
    END AS provider_name,
    model_source,
    reprice_model,
    reprice_provider
FROM chosen;
