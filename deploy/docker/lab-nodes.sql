-- The lab's two simulated FreeSWITCH nodes (node1, node2 in
-- docker-compose.yml) as an OpenSIPS operator has them: load_balancer
-- group 1 with the resources of the deployment siplb replaces, and
-- dispatcher set 1 for REGISTER.  probe_mode 2: siplb-prober sends OPTIONS
-- to them all the time, so a node that stops answering is marked down.
INSERT IGNORE INTO load_balancer (id, group_id, dst_uri, resources, probe_mode, description) VALUES
    (1, 1, 'sip:172.30.60.41:5060', 'vm=100;conf=100;transc=100;pstn=500', 2, 'node1'),
    (2, 1, 'sip:172.30.60.42:5060', 'vm=100;conf=100;transc=100;pstn=500', 2, 'node2');
INSERT INTO dispatcher (setid, destination, state, weight, priority, description)
    SELECT 1, 'sip:172.30.60.41:5060', 0, '1', 0, 'node1' FROM DUAL
    WHERE NOT EXISTS (SELECT 1 FROM dispatcher WHERE destination = 'sip:172.30.60.41:5060');
INSERT INTO dispatcher (setid, destination, state, weight, priority, description)
    SELECT 1, 'sip:172.30.60.42:5060', 0, '1', 0, 'node2' FROM DUAL
    WHERE NOT EXISTS (SELECT 1 FROM dispatcher WHERE destination = 'sip:172.30.60.42:5060');
