-- Placeholder so this branch's 0006 applies without a gap; the migrations of the branches that
-- own this number replace it at merge (delete this file then).
SELECT 1;
