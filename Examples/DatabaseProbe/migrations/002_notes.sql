CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    body TEXT NOT NULL  -- may contain ';' inside 'quotes; like this'
);
CREATE INDEX notes_by_user ON notes (user_id);
