-- One database per service (ARCHITECTURE.md: no shared database, no cross-service foreign keys).
CREATE DATABASE cooperatives;
CREATE DATABASE lots;
CREATE DATABASE certification;
