-- The compose lab's MariaDB, run once on an empty data directory
-- (siplb-lab-mariadb, before the lab's tables and rows): the OpenSIPS
-- database that siplb-scheduler reads ([scheduler] node_source = mysql)
-- and the database of siplb-dialogd's store ([dialogd] store = mysql).
-- Lab credentials, the same as in deploy/docker/siplb.conf.
CREATE DATABASE IF NOT EXISTS opensips;
CREATE DATABASE IF NOT EXISTS siplb;
CREATE USER IF NOT EXISTS 'opensips'@'%' IDENTIFIED BY 'opensipsrw';
GRANT ALL ON opensips.* TO 'opensips'@'%';
CREATE USER IF NOT EXISTS 'siplb'@'%' IDENTIFIED BY 'siplb-lab-pw';
GRANT ALL ON siplb.* TO 'siplb'@'%';
