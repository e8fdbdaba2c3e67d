-- Tokens for scripts (`Authorization: Bearer …`, made by POST /api/tokens). Only each token's
-- SHA-256 is kept, so a copy of the database holds no token that works. The same SQL on both
-- databases.
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id)
);
