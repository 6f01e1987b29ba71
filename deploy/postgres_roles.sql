-- Roles and schemas of the SQL publication target (PMM_PUBLISH_SQL_URL), applied once by a database
-- administrator (psql -v ON_ERROR_STOP=1 -d pmm -f deploy/postgres_roles.sql); safe to apply again.
--
--   pmm_publisher           the pipeline (LOGIN; set its password: ALTER ROLE pmm_publisher PASSWORD '...').
--                           Owns the schemas and writes them; nobody else can write.
--   pmm_public_reader       reads pmm_public only.
--   pmm_wco_reader          reads pmm_public and pmm_wco.
--   pmm_secretariat_reader  reads every schema: pmm_public, pmm_wco, pmm_secretariat, pmm_quality, pmm_collection.
-- The reader roles cannot log in: grant one to each person or system, e.g.
--   CREATE ROLE dashboard LOGIN PASSWORD '...' IN ROLE pmm_public_reader;

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['pmm_public_reader', 'pmm_wco_reader', 'pmm_secretariat_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', name);
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pmm_publisher') THEN
        CREATE ROLE pmm_publisher LOGIN;
    END IF;
END
$$;

-- Nobody gets anything by default in this database.
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO pmm_publisher, pmm_public_reader, pmm_wco_reader,'
                   ' pmm_secretariat_reader', current_database());
END
$$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS pmm_public AUTHORIZATION pmm_publisher;
CREATE SCHEMA IF NOT EXISTS pmm_wco AUTHORIZATION pmm_publisher;
CREATE SCHEMA IF NOT EXISTS pmm_secretariat AUTHORIZATION pmm_publisher;
CREATE SCHEMA IF NOT EXISTS pmm_quality AUTHORIZATION pmm_publisher;
CREATE SCHEMA IF NOT EXISTS pmm_collection AUTHORIZATION pmm_publisher;
REVOKE ALL ON SCHEMA pmm_public, pmm_wco, pmm_secretariat, pmm_quality, pmm_collection FROM PUBLIC;

-- Who reads which schema: the tables there now, and (default privileges) those the pipeline creates later.
GRANT USAGE ON SCHEMA pmm_public TO pmm_public_reader, pmm_wco_reader, pmm_secretariat_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA pmm_public TO pmm_public_reader, pmm_wco_reader, pmm_secretariat_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE pmm_publisher IN SCHEMA pmm_public
    GRANT SELECT ON TABLES TO pmm_public_reader, pmm_wco_reader, pmm_secretariat_reader;

GRANT USAGE ON SCHEMA pmm_wco TO pmm_wco_reader, pmm_secretariat_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA pmm_wco TO pmm_wco_reader, pmm_secretariat_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE pmm_publisher IN SCHEMA pmm_wco
    GRANT SELECT ON TABLES TO pmm_wco_reader, pmm_secretariat_reader;

GRANT USAGE ON SCHEMA pmm_secretariat, pmm_quality, pmm_collection TO pmm_secretariat_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA pmm_secretariat, pmm_quality, pmm_collection TO pmm_secretariat_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE pmm_publisher IN SCHEMA pmm_secretariat, pmm_quality, pmm_collection
    GRANT SELECT ON TABLES TO pmm_secretariat_reader;
