-- Anthropic's server tools per reply (usage.server_tool_use): web searches are billed per search
-- and counted against DAILY_SEARCH_BUDGET; fetches cost tokens only but are shown by /usage.
ALTER TABLE usage ADD COLUMN web_search_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN web_fetch_requests INTEGER NOT NULL DEFAULT 0;
