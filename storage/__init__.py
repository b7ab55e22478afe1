"""Storage: SQLModel tables, the engine and sessions, repositories, Alembic migrations."""
