-- OpenSIPS 2.4 load_balancer (table version 2) and dispatcher (version 8)
-- tables, as OpenSIPS's own scripts/mysql create them, so that siplb and
-- an OpenSIPS still running during a migration can share one database.
-- Safe to run again: nothing here replaces an existing table or row.

CREATE TABLE IF NOT EXISTS version (
    table_name CHAR(32) NOT NULL,
    table_version INT UNSIGNED DEFAULT 0 NOT NULL,
    CONSTRAINT t_name_idx UNIQUE (table_name)
);

INSERT IGNORE INTO version (table_name, table_version) VALUES
    ('load_balancer', 2),
    ('dispatcher', 8);

CREATE TABLE IF NOT EXISTS load_balancer (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    group_id INT(11) UNSIGNED DEFAULT 0 NOT NULL,
    dst_uri CHAR(128) NOT NULL,
    resources CHAR(255) NOT NULL,
    probe_mode INT(11) UNSIGNED DEFAULT 0 NOT NULL,
    description CHAR(128) DEFAULT '' NOT NULL,
    INDEX dsturi_idx (dst_uri)
);

CREATE TABLE IF NOT EXISTS dispatcher (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    setid INT DEFAULT 0 NOT NULL,
    destination CHAR(192) DEFAULT '' NOT NULL,
    socket CHAR(128) DEFAULT NULL,
    state INT DEFAULT 0 NOT NULL,
    weight CHAR(64) DEFAULT 1 NOT NULL,
    priority INT DEFAULT 0 NOT NULL,
    attrs CHAR(128) DEFAULT '' NOT NULL,
    description CHAR(64) DEFAULT '' NOT NULL
);
