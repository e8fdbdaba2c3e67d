-- Who follows whom, and the indexes the timeline's queries use (the same SQL on both databases).
CREATE TABLE follows (
    follower_id BIGINT NOT NULL REFERENCES users (id),
    followed_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (follower_id, followed_id)
);
CREATE INDEX follows_by_followed ON follows (followed_id);
CREATE INDEX posts_by_user_time ON posts (user_id, created_at);
