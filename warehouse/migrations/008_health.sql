-- 008: source health — per source (a domain, a feed, later a sitemap: one generic key) per
-- day, what came in and how complete it was; drift alerts against each source's own baseline.
-- Plain views and a table without constraints: the same SQL on every backend.
-- Documented in docs/warehouse.md ("Source health").

-- Drift alerts written by newsetl.analysis.health (after every flow run and by maintenance).
-- One open row (resolved_at IS NULL) per source and metric at most; the loader keeps it so.
CREATE TABLE source_alerts (
    alert_id            VARCHAR NOT NULL,        -- sha256(source_key, metric, since), 16 hex
    source_key          VARCHAR NOT NULL,        -- '<source_type>:<source>', e.g. 'domain:example.com'
    source_type         VARCHAR NOT NULL,        -- 'domain', 'feed' (later 'sitemap')
    source              VARCHAR NOT NULL,        -- the domain, or the feed URL
    metric              VARCHAR NOT NULL,        -- 'median_words', 'date_share', 'rejection_rate', ...
    rule                VARCHAR NOT NULL,        -- what fired, in words ('fell below half of the baseline')
    baseline            DOUBLE NOT NULL,         -- the metric over the baseline window before `since`
    now                 DOUBLE NOT NULL,         -- the metric over the latest window (updated while open)
    since               DATE NOT NULL,           -- first day of the window that drifted
    opened_at           TIMESTAMPTZ NOT NULL,
    opened_run_id       VARCHAR,                 -- the flow run whose check opened it
    checked_at          TIMESTAMPTZ NOT NULL,    -- last check that saw it (open or resolving)
    resolved_at         TIMESTAMPTZ,             -- NULL: open
    resolved_value      DOUBLE                   -- the metric when it recovered
);

-- One row per input, with its domain (the article's, else the host of the URL it came from)
-- and, for inputs that loaded or updated an article, that article's metadata (its current
-- version). A view (inlined where it is used), so filters on seen_at reach the inputs scan.
CREATE VIEW source_input_facts AS
SELECT
    i.run_id, i.source_kind, i.source_ref, i.parent_ref, i.outcome, i.stage, i.reason, i.seen_at,
    CAST(i.seen_at AT TIME ZONE 'UTC' AS DATE) AS day,
    i.outcome IN ('loaded', 'updated') AS is_article,
    coalesce(
        CASE WHEN i.outcome IN ('loaded', 'updated') THEN a.domain END,
        nullif(regexp_extract(lower(i.source_ref), '^https?://(?:[^/@]*@)?(?:www\.)?([^/:?#]+)', 1), ''),
        a.domain
    ) AS domain,
    CASE WHEN i.outcome IN ('loaded', 'updated') THEN a.word_count END AS word_count,
    CASE WHEN i.outcome IN ('loaded', 'updated') THEN a.title IS NOT NULL AND trim(a.title) <> '' END
        AS has_title,
    CASE WHEN i.outcome IN ('loaded', 'updated') THEN a.published_at IS NOT NULL END AS has_date,
    CASE WHEN i.outcome IN ('loaded', 'updated') THEN coalesce(len(a.authors), 0) > 0 END AS has_authors,
    CASE WHEN i.outcome IN ('loaded', 'updated') THEN a.language IS NOT NULL END AS has_language,
    CASE WHEN i.outcome IN ('loaded', 'updated') THEN a.text_source = 'feed' END AS feed_text
FROM inputs AS i
LEFT JOIN articles AS a ON a.article_id = i.article_id;

-- One row per input per source it belongs to: its domain and its parent (the feed of a feed
-- entry; later a sitemap). `unchanged` inputs count as seen, not as new articles.
CREATE VIEW source_inputs AS
SELECT 'domain' AS source_type, domain AS source, 'domain:' || domain AS source_key, * EXCLUDE (domain)
FROM source_input_facts WHERE domain IS NOT NULL
UNION ALL
SELECT source_kind, parent_ref, source_kind || ':' || parent_ref, * EXCLUDE (domain)
FROM source_input_facts WHERE parent_ref IS NOT NULL;

-- Per source per UTC day (of ingestion): inputs by outcome, the rejection rate, and what the
-- new articles carried (shares are 0..1 over the day's loaded and updated articles).
CREATE VIEW source_daily AS
SELECT
    source_key,
    source_type,
    source,
    day,
    count(*) AS inputs,
    count(*) FILTER (WHERE is_article) AS articles,
    count(*) FILTER (WHERE outcome = 'duplicate') AS duplicates,
    count(*) FILTER (WHERE outcome = 'unchanged') AS unchanged,
    count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
    count(*) FILTER (WHERE outcome = 'rejected')
        / greatest(count(*) FILTER (WHERE outcome <> 'unchanged'), 1) AS rejection_rate,
    arg_max(reason, seen_at) FILTER (WHERE outcome = 'rejected') AS last_rejection,
    median(word_count) AS median_words,
    avg(CAST(has_title AS INTEGER)) AS title_share,
    avg(CAST(has_date AS INTEGER)) AS date_share,
    avg(CAST(has_authors AS INTEGER)) AS authors_share,
    avg(CAST(has_language AS INTEGER)) AS language_share,
    avg(CAST(feed_text AS INTEGER)) AS feed_text_share,
    count(*) FILTER (WHERE outcome = 'duplicate')
        / greatest(count(*) FILTER (WHERE outcome <> 'unchanged'), 1) AS duplicate_share
FROM source_inputs
GROUP BY source_key, source_type, source, day;

-- Rejections per source, day and kind of reason (numbers in the reason replaced by N, so
-- 'too little text (3 words, minimum 8)' and '(5 words, …)' are one kind).
CREATE VIEW source_rejections_daily AS
SELECT
    source_key,
    source_type,
    source,
    day,
    stage,
    left(regexp_replace(reason, '[0-9]+', 'N', 'g'), 120) AS reason,
    count(*) AS inputs,
    arg_max(source_ref, seen_at) AS example
FROM source_inputs
WHERE outcome = 'rejected'
GROUP BY ALL;

-- Per source: its latest 7 days with data (ending at its last day, so a source that went
-- quiet still shows how it was), the days before as context, and its open drift alerts.
CREATE VIEW source_health AS
WITH last AS (
    SELECT source_key, max(day) AS last_day, min(day) AS first_day, count(DISTINCT day) AS days_seen
    FROM source_inputs GROUP BY source_key
),
recent AS (
    SELECT
        i.source_key, any_value(i.source_type) AS source_type, any_value(i.source) AS source,
        count(*) AS inputs_7d,
        count(*) FILTER (WHERE i.is_article) AS articles_7d,
        count(*) FILTER (WHERE i.outcome = 'duplicate') AS duplicates_7d,
        count(*) FILTER (WHERE i.outcome = 'rejected') AS rejected_7d,
        count(*) FILTER (WHERE i.outcome = 'rejected')
            / greatest(count(*) FILTER (WHERE i.outcome <> 'unchanged'), 1) AS rejection_rate_7d,
        median(i.word_count) AS median_words_7d,
        avg(CAST(i.has_title AS INTEGER)) AS title_share_7d,
        avg(CAST(i.has_date AS INTEGER)) AS date_share_7d,
        avg(CAST(i.has_authors AS INTEGER)) AS authors_share_7d,
        avg(CAST(i.has_language AS INTEGER)) AS language_share_7d,
        avg(CAST(i.feed_text AS INTEGER)) AS feed_text_share_7d
    FROM source_inputs AS i JOIN last AS l USING (source_key)
    WHERE i.day > l.last_day - 7
    GROUP BY i.source_key
),
alerts AS (
    SELECT source_key, count(*) AS open_alerts, string_agg(metric, ', ' ORDER BY metric) AS alert_metrics
    FROM source_alerts WHERE resolved_at IS NULL GROUP BY source_key
)
SELECT
    r.source_key, r.source_type, r.source,
    l.first_day, l.last_day, l.days_seen,
    CAST(current_date - l.last_day AS INTEGER) AS days_since_last,
    coalesce(a.open_alerts, 0) AS open_alerts,
    a.alert_metrics,
    r.* EXCLUDE (source_key, source_type, source)
FROM recent AS r
JOIN last AS l USING (source_key)
LEFT JOIN alerts AS a USING (source_key);
