-- Usernames are one account whatever their case: `ann` and `ANN` were two accounts, an easy
-- impersonation. (Fails, naming the index, if a database already holds two such names: rename
-- one first.) And each user's session version, which log-out raises to end every session they
-- have, so that a copied session cookie stops working. The same SQL on both databases.
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
ALTER TABLE users ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0;
