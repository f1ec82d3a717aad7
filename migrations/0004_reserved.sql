-- Placeholder: issue 16 was given migration number 0005 while 0004 belongs to another branch.
-- Delete this file when merging (the settings migration is renumbered after the real 0004).
SELECT 1;
