-- Each user's picture: the name the server gave the file in the avatar directory (never the
-- client's file name), or NULL for none. The same SQL on both databases.
ALTER TABLE users ADD COLUMN avatar TEXT;
