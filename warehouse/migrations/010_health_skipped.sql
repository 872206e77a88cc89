-- 010: inputs that are not articles by their type (outcome 'skipped', from 007: data files,
-- images, a WARC's request and metadata records …) belong to no source's health: they are
-- neither articles nor rejections, and counted in a rejection rate's denominator they
-- would hide a real jump in rejections. Same columns as 008's view; every view built on
-- it (source_daily, source_rejections_daily, source_health) follows.
CREATE OR REPLACE VIEW source_inputs AS
SELECT 'domain' AS source_type, domain AS source, 'domain:' || domain AS source_key, * EXCLUDE (domain)
FROM source_input_facts WHERE domain IS NOT NULL AND outcome <> 'skipped'
UNION ALL
SELECT source_kind, parent_ref, source_kind || ':' || parent_ref, * EXCLUDE (domain)
FROM source_input_facts WHERE parent_ref IS NOT NULL AND outcome <> 'skipped';
