-- Orleans' ADO.NET providers (clustering, grain storage, reminders) keep no SQL of their own: at start-up
-- each one runs `SELECT QueryKey, QueryText FROM OrleansQuery` and then executes the stored texts by key,
-- binding parameters by name (@Name). A missing key stops the silo ("Not all required queries found").
--
-- The identifiers are deliberately left unquoted. Postgres folds them to orleansquery(querykey, querytext),
-- and the provider's own unquoted SELECT folds the same way; Npgsql then finds the columns the provider asks
-- for by name ("QueryKey", "QueryText") through its case-insensitive fallback in GetOrdinal.
--
-- The later scripts insert their rows here; every query text is written for this schema, not copied.

CREATE TABLE OrleansQuery (
    QueryKey  varchar(64) NOT NULL PRIMARY KEY,
    QueryText text        NOT NULL
);
