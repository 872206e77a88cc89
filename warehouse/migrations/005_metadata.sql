-- 005: publication-time zone and byline organisations (extractor revision 2).
-- published_at stays the UTC instant; these say how sure its zone is and who else is credited.

ALTER TABLE articles ADD COLUMN agencies VARCHAR[];                  -- dpa, Reuters, AP, a desk, the site when no one is named
ALTER TABLE articles ADD COLUMN published_at_tz_stated BOOLEAN;      -- the source value stated its UTC offset
ALTER TABLE articles ADD COLUMN published_at_offset_min SMALLINT;    -- that offset, or the one inferred from the page (minutes east of UTC)
