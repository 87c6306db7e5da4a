-- Per-project quota limits (Trove's quotas table): an admin's limit for one resource of one project, overriding the
-- [DEFAULT] max_*_per_tenant option; -1 means no limit. What a project holds is counted when an insert checks it, not kept.
CREATE TABLE quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
