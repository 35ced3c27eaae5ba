-- siplb-dialogd's dialog store, MySQL/MariaDB ([dialogd] store = mysql,
-- db_url = mysql://user:pass@host:port/db).  One row per dialog key;
-- TERMINATED rows stay as history, with the reason ("bye", "cancel",
-- "503", "lost", "expired", ...).  state: 1 CREATED, 2 CONFIRMED,
-- 3 TERMINATED; times are Unix microseconds; resources are joined with
-- ';'.  ascii_bin: keys compare byte for byte.  siplb-dialogd runs this
-- same text at start (with [dialogd] table for the name).

CREATE TABLE IF NOT EXISTS siplb_dialogs (
    `key` VARCHAR(64) NOT NULL PRIMARY KEY,
    edge VARCHAR(64) NOT NULL DEFAULT '',
    node_id INT UNSIGNED NOT NULL DEFAULT 0,
    group_id INT UNSIGNED NOT NULL DEFAULT 0,
    resources VARCHAR(255) NOT NULL DEFAULT '',
    state TINYINT UNSIGNED NOT NULL,
    created_us BIGINT UNSIGNED NOT NULL,
    updated_us BIGINT UNSIGNED NOT NULL,
    call_id VARCHAR(255) NOT NULL DEFAULT '',
    from_tag VARCHAR(128) NOT NULL DEFAULT '',
    to_tag VARCHAR(128) NOT NULL DEFAULT '',
    reason VARCHAR(64) NOT NULL DEFAULT '',
    INDEX siplb_dialogs_state (state),
    INDEX siplb_dialogs_node_id (node_id),
    INDEX siplb_dialogs_edge (edge)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;
