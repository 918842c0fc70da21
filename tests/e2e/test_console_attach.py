"""`:attach PATH` on the console end to end: a real process, a script on standard input, files on disk.

A staged file goes with the next command, sealed under the item's case key like a photo sent on
Matrix or Telegram, and erased with the case; the [attachments] limits answer in the bot's own words, said
as "Not staged" (nothing is being sent yet) with what to do on the console.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import BinaryIO

import pytest

from alerts.attachments import AttachmentPolicy, size_text
from alerts.messages import Attachment
from bot.connectors.console_files import EXAMPLE, guess_type, not_staged, read_attachment
from tests.e2e.test_console import ENV, console, liaison_bot, workdir  # noqa: F401 - a fixture, by name

PHOTO = b"\x89PNG\r\n\x1a\n" + b"CANARY-PNG-4e1d passport page 2 " * 4
MANIFEST = b"%PDF-1.4 passenger manifest XX123"


def _blocks(out: str, heading: str) -> list[str]:
    return [b for b in out.split("┌─ ") if b.startswith(heading)]


def _files(workdir: Path) -> None:
    (workdir / "page.png").write_bytes(PHOTO)
    (workdir / "manifest scan.bin").write_bytes(MANIFEST)  # no extension to go by: the content says PDF
    (workdir / "notes.txt").write_text("just text\n")
    (workdir / "empty.pdf").write_bytes(b"")
    (workdir / "scans").mkdir()


def test_a_staged_file_goes_with_the_alert_and_with_a_reply_and_is_shown_by_name_and_size(workdir: Path) -> None:  # noqa: F811
    _files(workdir)
    script = (
        ":attach page.png\n"
        "/alert to:TH tlp:amber topic:document-fraud\n"
        "Altered passport, page 2\n"
        ':attach "manifest scan.bin"\n'  # within the body: staged for it, and the body goes on
        "Seen at KUL gate 4\n"
        "\n"
        ":attach\n"  # nothing staged any more: sent with the alert
        ":as th-npoc\n"
        ":attach page.png\n"
        "/reply A-2026-0001 Confirmed, see the stamp\n"
        ":attach page.png\n"
        "/ack A-2026-0001\n"  # takes no file: refused whole, and the file is not kept staged
        ":attach\n"
    )
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Staged page.png (image/png, 136 bytes): it goes with your next command" in out
    assert "Staged manifest scan.bin (application/pdf, 33 bytes)" in out
    [delivery] = [b for b in _blocks(out, "to National point of contact (Thailand), direct chat") if "· delivery" in b]
    assert "│ Altered passport, page 2\n│ Seen at KUL gate 4\n" in delivery and ":attach" not in delivery
    assert "│ [attachment: page.png, image/png, 136 bytes]\n│ [attachment: manifest scan.bin, application/pdf, " \
           "33 bytes]\n" in delivery
    assert "No file is staged." in out
    [feedback] = [b for b in _blocks(out, "to Immigration liaison officer (Malaysia), direct chat")
                  if "· feedback" in b]
    assert "Confirmed, see the stamp" in feedback and "│ [attachment: page.png, image/png, 136 bytes]" in feedback
    assert "│ Not done: /ack takes no attachment. Photos and files go with /alert, /request or /reply (:attach " \
           "PATH, then the command), for example :attach page2.jpg then /alert to:TH" in out
    assert not any("Acknowledged A-2026-0001" in b for b in _blocks(out, "to National point of contact (Thailand)"))
    assert out.count("No file is staged.") == 2
    assert "Traceback" not in out + run.stderr


def test_path_errors_are_one_line_and_the_limits_refuse_with_the_bots_own_text(workdir: Path) -> None:  # noqa: F811
    _files(workdir)
    script = (":attach missing.jpg\n:attach scans\n:attach page.png/inside\n:attach empty.pdf\n:attach notes.txt\n"
              ":attach\n/alert to:TH tlp:amber Nothing attached here\n\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert f"No file missing.jpg: check the path. Example: {EXAMPLE}" in lines
    assert f"scans is a directory: attach one file at a time. Example: {EXAMPLE}" in lines
    assert "Cannot read page.png/inside: Not a directory." in lines
    assert "empty.pdf is empty: there is nothing to attach." in lines
    # What a chat says of the same file, but at staging: nothing was being sent, and what to do here.
    in_chat = AttachmentPolicy().refusal((Attachment("notes.txt", "text/plain", 10),))
    assert in_chat == ("Not sent: the attachment notes.txt is of type text/plain; accepted: up to 10.0 MB each, of "
                       "type application/pdf, image/jpeg, image/png. Send it again as one of those (a PDF or a photo).")
    assert ("Not staged: the attachment notes.txt is of type text/plain; accepted: up to 10.0 MB each, of type "
            "application/pdf, image/jpeg, image/png. Attach one of those instead (a PDF or a photo). "
            f"Example: {EXAMPLE}") in lines
    assert not any(line.startswith("Not sent") for line in lines[:lines.index("No file is staged. Example: "
                                                                               ":attach ~/scans/passport.jpg")])
    assert "No file is staged. Example: :attach ~/scans/passport.jpg" in lines
    [delivery] = [b for b in _blocks(run.stdout, "to National point of contact (Thailand)") if "· delivery" in b]
    assert "[attachment:" not in delivery
    assert "Traceback" not in run.stdout + run.stderr


def test_the_configured_size_and_count_limits_apply(workdir: Path) -> None:  # noqa: F811
    _files(workdir)
    config = workdir / "config.toml"
    config.write_text(config.read_text().replace("max_bytes = 10_000_000", "max_bytes = 100\nmax_count = 1"))
    run = console(workdir, ":attach page.png\n:attach manifest scan.bin\n:attach manifest scan.bin\n")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert ("Not staged: the attachment page.png is 136 bytes; accepted: up to 100 bytes each, of type "
            "application/pdf, image/jpeg, image/png. Attach a smaller file (a lower resolution, or fewer pages). "
            f"Example: {EXAMPLE}") in lines
    assert "Staged manifest scan.bin (application/pdf, 33 bytes): it goes with your next command " \
           "(/alert, /request or /reply). :detach drops it." in lines
    assert ("Not staged: at most 1 attachment goes with one message, and 1 is staged already. Send your command "
            "with it, or :detach drops it to choose again.") in lines
    assert not any(line.startswith("Not sent") for line in lines)


def test_cancel_keeps_detach_and_acting_as_someone_else_drop_what_was_staged(workdir: Path) -> None:  # noqa: F811
    _files(workdir)
    script = (":attach page.png\n:attach\n/alert to:TH tlp:amber\nWrong country\n/cancel\n"
              ":detach\n/alert to:TH tlp:amber First\n\n"
              ":attach page.png\n:as my-npoc\n/alert to:TH tlp:amber Second\n\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    assert "Staged for your next command: page.png (image/png, 136 bytes)." in run.stdout  # :attach alone lists
    assert "Cancelled. Nothing was sent. Still staged for your next command: page.png (image/png, 136 bytes) " \
           "(:detach drops it)." in run.stdout
    assert "Dropped page.png (image/png, 136 bytes)." in run.stdout
    assert "Now acting as National point of contact (Malaysia). Dropped page.png (image/png, 136 bytes) staged " \
           "before." in run.stdout
    assert " accepted (" in run.stdout and "[attachment:" not in run.stdout


def test_an_attached_file_is_sealed_at_rest_and_gone_with_its_case(workdir: Path) -> None:  # noqa: F811
    _files(workdir)
    run = console(workdir, ":attach page.png\n/alert to:TH tlp:amber Altered passport\n\n")
    assert "[attachment: page.png, image/png, 136 bytes]" in run.stdout, run.stdout + run.stderr
    database = workdir / "var" / "liaison.sqlite"

    def stored() -> int:
        with sqlite3.connect(database) as connection:
            return int(connection.execute("select count(*) from attachments").fetchone()[0])

    assert stored() == 1
    for path in (workdir / "var").rglob("*"):
        if path.is_file():
            assert b"CANARY-PNG-4e1d" not in path.read_bytes(), path
    erased = subprocess.run(
        liaison_bot(workdir, "audit", "erase", "A-2026-0001", "--reason", "retention period over"),
        capture_output=True, text=True, cwd=workdir, timeout=120, env=ENV)
    assert erased.returncode == 0, erased.stderr
    assert stored() == 0


def test_the_type_is_read_from_the_content_before_the_name() -> None:
    assert guess_type("photo.jpg", b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert guess_type("scan", b"%PDF-1.7") == "application/pdf"
    assert guess_type("page.jpeg", b"plain") == "image/jpeg"
    assert guess_type("x.webp", b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert guess_type("blob", b"\0\1\2") == "application/octet-stream"
    assert guess_type("photo.png", b"\xff\xd8\xff\xe0\0\x10JFIF") == "image/jpeg"
    assert guess_type("anim", b"GIF89a\x01\0") == "image/gif" and guess_type("old", b"GIF87a") == "image/gif"


def test_a_home_path_and_quotes_are_read_as_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "page 2.png").write_bytes(PHOTO)
    monkeypatch.setenv("HOME", str(tmp_path))
    for typed in ("~/page 2.png", '"~/page 2.png"', "'~/page 2.png'", f"  {tmp_path}/page 2.png  "):
        staged = read_attachment(typed, AttachmentPolicy(), ())
        assert isinstance(staged, Attachment), (typed, staged)
        assert (staged.name, staged.mime, staged.data) == ("page 2.png", "image/png", PHOTO)


def test_a_file_past_the_limits_is_refused_from_its_first_bytes_without_being_read_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(MANIFEST + b" page" * 2000)
    policy = AttachmentPolicy(100, AttachmentPolicy().types, 4)
    read: list[int] = []
    opened = Path.open

    class Counting:
        def __init__(self, stream: BinaryIO) -> None:
            self.stream = stream

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.stream.close()

        def read(self, size: int = -1) -> bytes:
            data = self.stream.read(size)
            read.append(len(data))
            return data

    monkeypatch.setattr(Path, "open", lambda self, *a, **k: Counting(opened(self, *a, **k)))
    refused = read_attachment(str(scan), policy, ())
    assert isinstance(refused, str) and refused.startswith(f"Not staged: the attachment scan.pdf is "
                                                           f"{size_text(scan.stat().st_size)}; accepted: up to 100 bytes")
    assert read and sum(read) <= 16  # its first bytes, for the type: nothing more


def test_a_file_past_the_count_is_not_staged_and_the_answer_says_what_is_staged() -> None:
    policy = AttachmentPolicy(max_count=2)
    staged = (Attachment("a.png", "image/png", 3, b"abc"), Attachment("b.png", "image/png", 3, b"abc"))
    assert not_staged(policy, staged, policy.problem((*staged, Attachment("c.pdf", "application/pdf", 3))),
                      "c.pdf") == ("Not staged: at most 2 attachments go with one message, and 2 are staged "
                                   "already. Send your command with them, or :detach drops them to choose again.")
