"""UtcDateTime's own SQLite bind processor must store exactly what SQLAlchemy's would."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from storage.tables import UtcDateTime

_DIALECT = sqlite.dialect()


def _sqlalchemy_bind(value: datetime) -> str:
    return sqlite.DATETIME().bind_processor(_DIALECT)(UtcDateTime().process_bind_param(value, _DIALECT))


@pytest.mark.parametrize("value", [
    datetime(2026, 12, 5, 8, 44, 39, 83537, tzinfo=timezone.utc),
    datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=7))),
    datetime(999, 3, 4, 5, 6, 7, 8, tzinfo=timezone.utc),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
])
def test_binds_as_sqlalchemy_does(value: datetime) -> None:
    bound = UtcDateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)(value)
    assert bound == _sqlalchemy_bind(value)


def test_none_and_naive() -> None:
    process = UtcDateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)
    assert process(None) is None
    with pytest.raises(ValueError):
        process(datetime(2026, 1, 1))
