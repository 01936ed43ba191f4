-- Listing sorts by alias (case-insensitive) then id; one index in that order lets a page of the
-- list be read straight from the index instead of sorting every account.
DROP INDEX custody_accounts_alias;
CREATE INDEX custody_accounts_order ON custody_accounts (alias COLLATE NOCASE, id);
