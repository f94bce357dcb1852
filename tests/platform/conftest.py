"""Fixtures shared by the platform's job-queue tests."""

from __future__ import annotations

import pytest

from beatflow_platform.db.pool import open_pool
from beatflow_platform.settings import DatabaseSettings


@pytest.fixture
async def pool(database_dsn):
    """A connection pool on the test database (room for several workers and watchers at once)."""
    pool = await open_pool(DatabaseSettings(url=database_dsn, pool_max_size=12), application_name="platform-tests")
    yield pool
    await pool.close()
