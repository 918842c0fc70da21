"""CaseKeySealer: master key for case=None, a data key per case, erasure makes content unreadable."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from alerts.clock import ManualClock
from storage import keyring as keyfile
from storage.keyring import Keyring
from storage.case_keys import CaseKeys, case_keys, truncate_wal
from storage.sealing import AesGcmSealer, CaseKeySealer, ContentErased, ContentSealer, SealError
from tests.audit.support import make_engine


def test_case_none_is_the_master_key_and_compatible_with_aes_gcm_sealer(audit_engine: Engine,
                                                                         keyring: Keyring) -> None:
    with audit_engine.begin() as connection:
        sealer: ContentSealer = CaseKeySealer(connection, keyring)
        blob = sealer.seal(b"hello", aad=b"items|A-2026-0001")
        assert AesGcmSealer.from_keyring(keyring).open(blob, aad=b"items|A-2026-0001") == b"hello"
        other = AesGcmSealer.from_keyring(keyring).seal(b"there", aad=b"x")
        assert sealer.open(other, aad=b"x") == b"there"
        assert connection.execute(select(case_keys)).first() is None  # no case key was made


def test_a_case_gets_its_own_key_in_the_callers_transaction(audit_engine: Engine, keyring: Keyring) -> None:
    with audit_engine.connect() as connection:
        with connection.begin() as transaction:
            CaseKeySealer(connection, keyring).seal(b"gone", aad=b"a", case="A-2026-0001")
            transaction.rollback()
        with connection.begin():
            assert connection.execute(select(case_keys)).first() is None
            blob = CaseKeySealer(connection, keyring).seal(b"kept", aad=b"a", case="A-2026-0001")
    with audit_engine.begin() as connection:
        sealer = CaseKeySealer(connection, keyring)
        assert sealer.open(blob, aad=b"a", case="A-2026-0001") == b"kept"
        assert len(connection.execute(select(case_keys)).all()) == 1
        with pytest.raises(SealError):
            sealer.open(blob, aad=b"b", case="A-2026-0001")  # another row
        with pytest.raises(SealError):
            sealer.open(blob, aad=b"a", case="A-2026-0002")  # another case
        with pytest.raises(SealError):
            sealer.open(blob, aad=b"a")  # case not given
        with pytest.raises(SealError):
            AesGcmSealer.from_keyring(keyring).open(blob, aad=b"a")


def test_two_sealers_racing_for_a_case_end_up_with_one_key(audit_engine: Engine, keyring: Keyring) -> None:
    with audit_engine.begin() as connection:
        first = CaseKeys(connection, keyring).get_or_create("A-2026-0007")
        second = CaseKeys(connection, keyring)
        # The second sealer did not see the row before; its insert meets the conflict and yields.
        assert second.get_or_create("A-2026-0007").key_id == first.key_id


def test_erasing_a_case_makes_its_content_unreadable(audit_engine: Engine, keyring: Keyring,
                                                      clock: ManualClock) -> None:
    with audit_engine.begin() as connection:
        sealer = CaseKeySealer(connection, keyring, clock)
        item = sealer.seal(b"item text", aad=b"items|A-2026-0001", case="A-2026-0001")
        outbox = sealer.seal(b"outbox text", aad=b"outbox|k1", case="A-2026-0001")
        other = sealer.seal(b"another case", aad=b"items|A-2026-0002", case="A-2026-0002")
    with audit_engine.begin() as connection:
        assert CaseKeys(connection, keyring).erase("A-2026-0001", clock.now()) is True
        assert CaseKeys(connection, keyring).erase("A-2026-0001", clock.now()) is False  # nothing left
    with audit_engine.begin() as connection:
        sealer = CaseKeySealer(connection, keyring)
        for blob, aad in ((item, b"items|A-2026-0001"), (outbox, b"outbox|k1")):
            with pytest.raises(ContentErased, match="erased"):
                sealer.open(blob, aad=aad, case="A-2026-0001")
        with pytest.raises(ContentErased):
            sealer.seal(b"more", aad=b"x", case="A-2026-0001")
        assert sealer.open(other, aad=b"items|A-2026-0002", case="A-2026-0002") == b"another case"
        row = connection.execute(select(case_keys).where(case_keys.c.reference == "A-2026-0001")).one()
        assert row.wrapped_key is None and row.erased_at == clock.now()


def test_erasing_a_case_that_never_had_a_key_blocks_one_being_made(audit_engine: Engine, keyring: Keyring) -> None:
    with audit_engine.begin() as connection:
        assert CaseKeys(connection, keyring).erase("A-2026-0099") is False
    with audit_engine.begin() as connection:
        with pytest.raises(ContentErased):
            CaseKeySealer(connection, keyring).seal(b"x", aad=b"x", case="A-2026-0099")


def test_get_or_create_finds_a_key_or_erasure_that_is_there(audit_engine: Engine, keyring: Keyring) -> None:
    with audit_engine.begin() as connection:
        existing = CaseKeys(connection, keyring).get_or_create("A-2026-0042")
        assert CaseKeys(connection, keyring).erase("A-2026-0043") is False
    with audit_engine.begin() as connection:
        sealer = CaseKeySealer(connection, keyring)
        assert sealer.case_keys.get_or_create("A-2026-0042").key_id == existing.key_id
        with pytest.raises(ContentErased):
            sealer.seal(b"x", aad=b"x", case="A-2026-0043")
        assert len(connection.execute(select(case_keys)).all()) == 2


def test_rotation_keeps_case_keys_readable_and_rewrap_moves_them(audit_engine: Engine, keyring_path: Path) -> None:
    old = keyfile.load(keyring_path)
    with audit_engine.begin() as connection:
        blob = CaseKeySealer(connection, old).seal(b"before rotation", aad=b"a", case="A-2026-0001")
    new = keyfile.rotate(keyring_path)
    with audit_engine.begin() as connection:
        assert CaseKeySealer(connection, new).open(blob, aad=b"a", case="A-2026-0001") == b"before rotation"
        assert CaseKeys(connection, new).rewrap() == 1
        assert connection.execute(select(case_keys.c.master_key_id)).scalar() == new.current_id
    only_new = Keyring(None, {new.current_id: new.current}, new.current_id, new.signing_key_id,
                       new._signing_key, new.signing_created_at)
    with audit_engine.begin() as connection:
        assert CaseKeySealer(connection, only_new).open(blob, aad=b"a", case="A-2026-0001") == b"before rotation"


def test_erasure_leaves_no_copy_of_the_wrapped_key_in_the_sqlite_files(sqlite_engine: Engine, keyring: Keyring,
                                                                       tmp_path: Path) -> None:
    with sqlite_engine.begin() as connection:
        CaseKeySealer(connection, keyring).seal(b"x", aad=b"x", case="A-2026-0001")
    with sqlite_engine.begin() as connection:
        wrapped = connection.execute(select(case_keys.c.wrapped_key)).scalar()
    database = Path(sqlite_engine.url.database)
    assert _found(wrapped, database)  # the scan can see it before
    with sqlite_engine.begin() as connection:
        CaseKeys(connection, keyring).erase("A-2026-0001")
    truncate_wal(sqlite_engine)
    assert not _found(wrapped, database)


def _found(needle: bytes, database: Path) -> bool:
    files = [database, database.with_name(database.name + "-wal")]
    return any(needle in f.read_bytes() for f in files if f.exists())


def test_writers_racing_for_a_new_case_in_their_own_transactions_share_one_key(audit_engine: Engine,
                                                                               keyring: Keyring) -> None:
    barrier = threading.Barrier(4)
    blobs: list[bytes] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            with audit_engine.begin() as connection:
                blobs.append(CaseKeySealer(connection, keyring).seal(b"%d" % n, aad=b"a", case="A-2026-0042"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with audit_engine.begin() as connection:
        assert len(connection.execute(select(case_keys)).all()) == 1
        sealer = CaseKeySealer(connection, keyring)
        assert sorted(sealer.open(blob, aad=b"a", case="A-2026-0042") for blob in blobs) == [b"0", b"1", b"2", b"3"]


@pytest.mark.postgres
def test_reading_a_case_key_does_not_wait_for_a_writer_holding_its_row(postgres_url: str, keyring: Keyring) -> None:
    """get_or_create of an existing key reads it as a SELECT would: it does not queue behind an erasure
    under way (which would then wait for this writer's audit head lock: a deadlock)."""
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as connection:
            CaseKeys(connection, keyring).get_or_create("A-2026-0001")
        with engine.connect() as eraser, engine.connect() as reader:
            eraser.begin()
            assert CaseKeys(eraser, keyring).erase("A-2026-0001")  # holds the row until it ends
            reader.begin()
            reader.exec_driver_sql("SET LOCAL lock_timeout = '500ms'")
            assert not CaseKeys(reader, keyring).get_or_create("A-2026-0001").erased  # not yet committed
            eraser.rollback()
    finally:
        engine.dispose()
