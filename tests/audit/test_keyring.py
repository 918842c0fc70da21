"""The key file: made 0600 and atomically, refused when readable by others, rotated without loss."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from storage import keyring as keyfile
from storage.keyring import KeyFilePermissionError, KeyringError
from storage.sealing import AesGcmSealer


def test_generate_makes_a_0600_file_that_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "liaison.keys"
    made = keyfile.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = keyfile.load(path)
    assert loaded.current_id == made.current_id
    assert loaded.current.key == made.current.key and len(loaded.current.key) == 32
    assert loaded.signing_key_id == made.signing_key_id
    assert loaded.public_key_bytes() == made.public_key_bytes()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")], "no temp file left behind"


def test_generate_never_overwrites_without_force(tmp_path: Path) -> None:
    path = tmp_path / "liaison.keys"
    first = keyfile.generate(path)
    with pytest.raises(KeyringError, match="already exists"):
        keyfile.generate(path)
    assert keyfile.load(path).current.key == first.current.key
    second = keyfile.generate(path, force=True)
    assert keyfile.load(path).current.key == second.current.key != first.current.key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700, 0o601])
def test_load_refuses_permissions_wider_than_0600(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "liaison.keys"
    keyfile.generate(path)
    path.chmod(mode)
    with pytest.raises(KeyFilePermissionError) as refused:
        keyfile.load(path)
    assert str(path) in str(refused.value) and "chmod 600" in str(refused.value)


def test_load_accepts_0400(tmp_path: Path) -> None:
    path = tmp_path / "liaison.keys"
    keyfile.generate(path)
    path.chmod(0o400)
    keyfile.load(path)


def test_missing_and_malformed_files_say_so_without_showing_content(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="does not exist"):
        keyfile.load(tmp_path / "nope.keys")
    path = tmp_path / "liaison.keys"
    keyfile.generate(path)
    document = json.loads(path.read_text())
    secret = document["master_keys"][0]["key"]
    document["master_keys"][0]["key"] = secret[:-4] + "!!!!"  # not base64 any more
    path.write_text(json.dumps(document))
    path.chmod(0o600)
    with pytest.raises(KeyringError) as malformed:
        keyfile.load(path)
    assert secret[:-4] not in str(malformed.value) and str(path) in str(malformed.value)


def test_rotation_adds_a_current_key_and_keeps_old_content_readable(tmp_path: Path) -> None:
    path = tmp_path / "liaison.keys"
    before = keyfile.generate(path)
    blob = AesGcmSealer.from_keyring(before).seal(b"old content", aad=b"row 1")
    after = keyfile.rotate(path)
    assert after.current_id != before.current_id
    assert set(after.master_keys) == {before.current_id, after.current_id}
    assert after.signing_key_id == before.signing_key_id
    reloaded = keyfile.load(path)
    assert reloaded.current_id == after.current_id
    sealer = AesGcmSealer.from_keyring(reloaded)
    assert sealer.open(blob, aad=b"row 1") == b"old content"
    assert sealer.seal(b"new", aad=b"x")[2:].startswith(after.current_id.encode())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_concurrent_rotations_lose_no_key(tmp_path: Path) -> None:
    path = tmp_path / "liaison.keys"
    keyfile.generate(path)
    threads = [threading.Thread(target=keyfile.rotate, args=(path,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keyfile.load(path).master_keys) == 7


def test_reprs_show_ids_never_key_material(tmp_path: Path) -> None:
    path = tmp_path / "liaison.keys"
    keyring = keyfile.generate(path)
    secrets = [base64.b64encode(k.key).decode() for k in keyring.master_keys.values()]
    secrets += [json.loads(path.read_text())["signing_key"]["private"]]
    shown = repr(keyring) + str(keyring) + repr(keyring.current) + repr(list(keyring.master_keys.values()))
    assert keyring.current_id in shown
    for secret in secrets:
        assert secret not in shown
    assert keyring.current.key.hex() not in shown


def test_signatures_verify_only_with_the_right_key(tmp_path: Path) -> None:
    keyring = keyfile.generate(tmp_path / "a.keys")
    other = keyfile.generate(tmp_path / "b.keys")
    signature = keyring.sign(b"checkpoint")
    assert keyring.verify_signature(keyring.signing_key_id, signature, b"checkpoint")
    assert not keyring.verify_signature(keyring.signing_key_id, signature, b"checkpoinT")
    assert not other.verify_signature(keyring.signing_key_id, signature, b"checkpoint")


def test_a_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.keys"
    keyfile.generate(real)
    link = tmp_path / "link.keys"
    os.symlink(real, link)
    with pytest.raises(KeyringError):
        keyfile.load(link)


def test_a_folder_where_the_key_file_should_be_is_named_as_such(tmp_path: Path) -> None:
    """It was `[Errno 21] Is a directory: 6`: neither the path nor what is expected."""
    folder = tmp_path / "liaison.keys"
    folder.mkdir()
    with pytest.raises(KeyringError) as refused:
        keyfile.load(folder)
    assert str(refused.value) == (f"key file {folder} is not a regular file: give the path of the key file itself "
                                  "([keys] path), e.g. var/keys/liaison.keys")
