-- siplb's admin enabled flag per node ([scheduler] state_table).
-- OpenSIPS load_balancer has no column for it, so without this table a node
-- disabled with siplbctl would come back enabled after a restart.  Nodes
-- with a dispatcher row keep dispatcher.state as their flag; siplb writes
-- both.  siplb-scheduler also creates this table itself on load.

CREATE TABLE IF NOT EXISTS siplb_node_state (
    node_id INT UNSIGNED PRIMARY KEY,
    enabled TINYINT NOT NULL
);
