-- One row per silo stop: what the graceful-shutdown sequence did, so operators can see every shutdown.
CREATE TABLE meshhook_shutdowns (
    id                bigserial   PRIMARY KEY,
    silo_name         text        NOT NULL,
    silo_address      text        NOT NULL,
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL,
    duration_ms       int         NOT NULL,
    drain_ms          int         NOT NULL,
    hand_off_ms       int         NOT NULL,
    hooks_ms          int         NOT NULL,
    steps_completed   int         NOT NULL,
    steps_interrupted int         NOT NULL,
    runs_handed_off   int         NOT NULL,
    hooks_failed      int         NOT NULL,
    forced            boolean     NOT NULL
);

CREATE INDEX meshhook_shutdowns_started ON meshhook_shutdowns (started_at DESC);
