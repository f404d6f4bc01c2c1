-- Marketplace search matches prefixes and near misses ("postgres" finds "PostgreSQL 15 admin docs")
-- through pg_trgm's word similarity, which ships with PostgreSQL.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
