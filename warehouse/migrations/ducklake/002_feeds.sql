-- DuckLake version of 002_feeds.sql: the same tables without PRIMARY KEY/UNIQUE/CHECK constraints,
-- which DuckLake does not have; the loader keeps keys unique (see storage/ducklake.py).
-- 002: feeds — the feed registry with its health, every entry seen per feed, every HTTP
-- request, cached robots.txt answers, and which article fields were filled from a feed.

CREATE TABLE feeds (
    url                 VARCHAR,        -- normalised feed URL (its identity)
    name                VARCHAR,        -- given by the user (--name, OPML title)
    category            VARCHAR,        -- OPML folder
    title               VARCHAR,        -- the feed's own title
    site_url            VARCHAR,        -- the site the feed belongs to
    description         VARCHAR,
    language            VARCHAR,
    feed_format         VARCHAR,        -- 'rss20', 'atom10', 'rss10', 'json1.1', ...
    final_url           VARCHAR,        -- where the last fetch ended after redirects
    etag                VARCHAR,        -- validators sent with the next poll
    last_modified       VARCHAR,
    body_sha256         VARCHAR,                 -- of the last 200 body: an identical body is not re-parsed
    ttl_s               INTEGER,                 -- poll interval the feed asks for (<ttl>, Cache-Control max-age)
    bozo                BOOLEAN,                 -- last parse found the feed ill-formed (and recovered)
    bozo_reason         VARCHAR,
    last_status         INTEGER,                 -- HTTP status of the last poll (null: no response)
    last_outcome        VARCHAR,        -- 'new_entries', 'new_entries_capped' (more next run), 'no_new_entries',
                                                 -- 'not_modified', 'unchanged_body', 'error'
    last_checked_at     TIMESTAMPTZ,
    last_success_at     TIMESTAMPTZ,
    last_new_entries    INTEGER,
    next_check_at       TIMESTAMPTZ,             -- null: due now
    error_streak        INTEGER NOT NULL DEFAULT 0,
    last_error          VARCHAR,
    last_error_at       TIMESTAMPTZ,
    last_run_id         VARCHAR,
    added_at            TIMESTAMPTZ NOT NULL
);

CREATE TABLE feed_entries (
    feed                VARCHAR NOT NULL,        -- feeds.url
    entry_key           VARCHAR NOT NULL,        -- guid, else normalised link, else 'sha256:' of the content
    guid                VARCHAR,
    link                VARCHAR,        -- normalised link
    title               VARCHAR,
    published           TIMESTAMPTZ,
    article_id          VARCHAR,        -- the article it became or duplicates; null if rejected
    outcome             VARCHAR NOT NULL,        -- its inputs row's outcome
    text_source         VARCHAR,        -- 'html' (its page) or 'feed' (the entry's own content)
    page_status         INTEGER,                 -- HTTP status of its page (null: not fetched)
    page_error          VARCHAR,        -- why the page was not used, if it was not
    attempts            INTEGER NOT NULL DEFAULT 1,
    retryable           BOOLEAN NOT NULL,        -- rejected for a transient reason: retried when seen again
    first_seen_at       TIMESTAMPTZ NOT NULL,
    first_run_id        VARCHAR NOT NULL,
    run_id              VARCHAR NOT NULL         -- run that last processed the entry (key: feed, entry_key)
);

CREATE TABLE fetches (
    run_id              VARCHAR NOT NULL,
    kind                VARCHAR NOT NULL,        -- 'feed', 'page' or 'robots'
    feed                VARCHAR,        -- the feed the request was made for
    url                 VARCHAR NOT NULL,        -- the URL requested (this hop)
    attempt             INTEGER NOT NULL,        -- 1 = first try, 2.. = retries
    hop                 INTEGER NOT NULL,        -- 0 = the URL asked for, 1.. = redirects followed
    status              INTEGER,                 -- null: no HTTP response
    not_modified        BOOLEAN NOT NULL,        -- answered 304
    bytes               BIGINT,                  -- body bytes after Content-Encoding, when read
    duration_ms         DOUBLE,
    error               VARCHAR,
    location            VARCHAR,        -- redirect target
    content_type        VARCHAR,
    peer_ip             VARCHAR,        -- address actually connected to
    fetched_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE robots_txt (
    origin              VARCHAR,        -- scheme://host[:port]
    status              INTEGER,
    body                VARCHAR,
    fetched_at          TIMESTAMPTZ NOT NULL
);

-- Article fields whose value came from the feed entry because the page had none
-- ('title', 'published_at', 'authors', 'tags'); for text_source 'feed' every field present.
ALTER TABLE articles ADD COLUMN filled_from_feed VARCHAR[];

CREATE VIEW v_feed_health AS
SELECT
    f.url,
    coalesce(f.name, f.title) AS name,
    CASE
        WHEN f.last_checked_at IS NULL THEN 'new'
        WHEN f.error_streak = 0 THEN 'ok'
        ELSE 'failing'
    END AS health,
    f.last_status,
    f.last_outcome,
    f.last_checked_at,
    f.last_success_at,
    f.error_streak,
    f.last_error,
    f.next_check_at,
    coalesce(e.entries_seen, 0) AS entries_seen,
    coalesce(e.articles, 0) AS articles,
    e.last_entry_at,
    f.bozo,
    f.category
FROM feeds f
LEFT JOIN (
    SELECT feed, count(*) AS entries_seen, count(DISTINCT article_id) AS articles,
           max(first_seen_at) AS last_entry_at
    FROM feed_entries GROUP BY feed
) e ON e.feed = f.url;
