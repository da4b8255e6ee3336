-- How a Patroni primary's commits are protected, as 'STREAMING SYNC': how
-- many members of the cluster stream from it, and how many of those
-- synchronously. scripts/ha.sh, scripts/failover.sh and
-- scripts/docker-smoke.sh wait on it.
--
-- A standby being cloned streams too, as the application 'pg_basebackup',
-- and until Patroni names the synchronous standby (strict mode starts with
-- synchronous_standby_names = '*') PostgreSQL may take that clone as the
-- synchronous one. The clone leaves when its copy is done, and a commit
-- then waits until a member streams, which can take seconds (a member
-- retries every wal_retrieve_retry_interval). So only members count.
SELECT count(*) FILTER (WHERE state = 'streaming') || ' ' ||
       count(*) FILTER (WHERE state = 'streaming' AND sync_state = 'sync')
FROM pg_stat_replication
WHERE application_name <> 'pg_basebackup';
