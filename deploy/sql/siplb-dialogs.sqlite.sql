-- siplb-dialogd's dialog store, SQLite ([dialogd] store = sqlite, the
-- default).  One row per dialog key; TERMINATED rows stay as history, with
-- the reason ("bye", "cancel", "503", "lost", "expired", ...).  state: 1
-- CREATED, 2 CONFIRMED, 3 TERMINATED; times are Unix microseconds;
-- resources are joined with ';'.  siplb-dialogd runs this same text at
-- start (with [dialogd] table for the name), in WAL mode.

CREATE TABLE IF NOT EXISTS siplb_dialogs (
    `key` VARCHAR(64) NOT NULL PRIMARY KEY,
    edge VARCHAR(64) NOT NULL DEFAULT '',
    node_id INTEGER NOT NULL DEFAULT 0,
    group_id INTEGER NOT NULL DEFAULT 0,
    resources VARCHAR(255) NOT NULL DEFAULT '',
    state INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    call_id VARCHAR(255) NOT NULL DEFAULT '',
    from_tag VARCHAR(128) NOT NULL DEFAULT '',
    to_tag VARCHAR(128) NOT NULL DEFAULT '',
    reason VARCHAR(64) NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS siplb_dialogs_state ON siplb_dialogs (state);
CREATE INDEX IF NOT EXISTS siplb_dialogs_node_id ON siplb_dialogs (node_id);
CREATE INDEX IF NOT EXISTS siplb_dialogs_edge ON siplb_dialogs (edge);
