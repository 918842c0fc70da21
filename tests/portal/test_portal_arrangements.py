"""The arrangements page: each arrangement with its dates and where it stands; coordinators add and
end them from the page through /arrangement's own parser, role check and handler (the same answers,
refusals and audit entries as in chat); auditors read it; anyone else gets 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import html
import re

import pytest

from storage.audit.trail import read_entries
from tests.portal.client import Answer, Client
from tests.portal.world import PortalWorld

ADD = {"between": "TH, CA", "doc": "MoU TH-CA 2026", "topics": "document-fraud", "from": "2026-11-01",
       "until": "2026-12-31", "direction": ""}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[PortalWorld]:
    with PortalWorld(tmp_path) as world:
        yield world


def logged_in(world: PortalWorld, contact: str) -> Client:
    client = Client(world.url)
    assert client.log_in(world.login_link(contact)).status == 303
    return client


def post(client: Client, path: str, form: dict[str, str]) -> Answer:
    page = client.get("/arrangements")
    assert page.status == 200
    return client.post(path, {"csrf": page.field("csrf"), **form})


def cell(column: str, text: str) -> str:
    """A cell of the arrangements table as the page writes it (named after its column, for phones)."""
    return f'<td data-label="{column}">{text}</td>'


def row_of(body: str, document: str) -> str:
    start = body.index(cell("Document", document))
    return body[start:body.index("</tr>", start)]


def test_a_coordinator_adds_an_arrangement_and_sees_its_dates(world: PortalWorld) -> None:
    client = logged_in(world, "rso-coordinator")
    answer = post(client, "/arrangements/add", ADD)
    assert answer.status == 200
    assert "Recorded arrangement" in answer.body  # the chat command's own answer
    row = row_of(answer.body, "MoU TH-CA 2026")
    # today is 2026-11-23 (the world's clock): 38 days to its last day
    assert "2026-11-01" in row and "2026-12-31" in row and cell("Days left", "38") in row and "in force" in row
    assert "CA, TH" in row and "document-fraud" in row and "both ways" in row
    # The chat sees the same arrangement, and the audit log holds the command as in chat.
    listed = world.say("rso-coordinator", "/arrangement list")
    assert any("MoU TH-CA 2026" in a for a in listed), listed
    with world.runtime.engine.connect() as connection:
        entries = list(read_entries(connection, world.runtime.keyring))
    changes = [e for e in entries if (e.detail or {}).get("command") == "arrangement add"]
    assert len(changes) == 1 and changes[0].actor == "rso-coordinator"
    assert (changes[0].detail or {})["ends"] == "2026-12-31"


def test_a_coordinator_ends_one_and_it_shows_as_ended(world: PortalWorld) -> None:
    client = logged_in(world, "rso-coordinator")
    post(client, "/arrangements/add", ADD)
    number = next(w.strip("#") for a in world.say("rso-coordinator", "/arrangement list")
                  for line in a.splitlines() if "MoU TH-CA 2026" in line for w in line.split() if w.startswith("#"))
    answer = post(client, "/arrangements/end", {"which": number, "reason": "superseded"})
    assert answer.status == 200 and "Ended arrangement" in answer.body
    row = row_of(answer.body, "MoU TH-CA 2026")
    assert "ended on 2026-11-23 (superseded)" in row and "not-in-force" in answer.body


def test_refusals_are_the_commands_own_and_escaped(world: PortalWorld) -> None:
    client = logged_in(world, "rso-coordinator")
    past = post(client, "/arrangements/add", {**ADD, "until": "2026-01-31", "from": ""})
    assert past.status == 400 and "until:2026-01-31 is past" in past.body
    unknown = post(client, "/arrangements/add", {**ADD, "between": "TH,XX"})
    assert unknown.status == 400 and "XX" in unknown.body and "Recorded" not in unknown.body
    hostile = post(client, "/arrangements/add", {**ADD, "between": "<b>TH</b>"})
    assert hostile.status == 400 and "&lt;b&gt;TH&lt;/b&gt;" in hostile.body and "<b>TH</b>" not in hostile.body
    injected = post(client, "/arrangements/add", {**ADD, "doc": 'MoU" until:2026-11-24 x:"'})
    assert injected.status == 400 and "may not hold quotation marks" in injected.body and "Recorded" not in injected.body
    unknown_end = post(client, "/arrangements/end", {"which": "999", "reason": "superseded"})
    assert unknown_end.status == 400 and "Ended" not in unknown_end.body
    wrong_end = post(client, "/arrangements/end", {"which": "x", "reason": "superseded"})
    assert wrong_end.status == 400 and "by its number" in wrong_end.body
    assert cell("Document", "MoU TH-CA 2026") not in client.get("/arrangements").body  # none of them was recorded


def field_value(body: str, name: str) -> str | None:
    found = re.search(rf'<input name="{name}" value="([^"]*)"', body)
    return html.unescape(found.group(1)) if found else None


def test_a_refused_form_comes_back_with_what_was_typed(world: PortalWorld) -> None:
    """Six fields typed on a phone are not lost to one mistake: the refusal shows the form filled in as it
    was sent (escaped), to be put right and sent again; once recorded, the form is empty again."""
    client = logged_in(world, "rso-coordinator")
    typed = {**ADD, "doc": "MoU <TH-CA> 2026", "until": "2026-13-01", "direction": "TH>CA"}
    refused = post(client, "/arrangements/add", typed)
    assert refused.status == 400 and "Recorded" not in refused.body
    for name in ("between", "doc", "topics", "from", "until", "direction"):
        assert field_value(refused.body, name) == typed[name], name
    assert "<TH-CA>" not in refused.body
    recorded = post(client, "/arrangements/add", {**typed, "until": "2026-12-31"})
    assert recorded.status == 200 and "Recorded arrangement" in recorded.body
    assert all(field_value(recorded.body, name) == "" for name in ("between", "doc", "until"))
    number = re.search(r"Recorded arrangement #(\d+)", recorded.body)
    assert number
    past = post(client, "/arrangements/end", {"which": number.group(1), "reason": ""})
    assert past.status == 400 and field_value(past.body, "reason") == ""
    assert f'<option value="{number.group(1)}" selected>' in past.body  # the one chosen stays chosen
    assert field_value(past.body, "between") == ""  # the other form is not filled from this one
    wrong = post(client, "/arrangements/end", {"which": "999", "reason": "superseded by <the 2027 MoU>"})
    assert wrong.status == 400 and field_value(wrong.body, "reason") == "superseded by <the 2027 MoU>"


def test_a_form_without_its_csrf_token_is_refused(world: PortalWorld) -> None:
    client = logged_in(world, "rso-coordinator")
    assert client.post("/arrangements/add", ADD).status == 403
    assert client.post("/arrangements/add", {**ADD, "csrf": "0" * 64}).status == 403
    assert cell("Document", "MoU TH-CA 2026") not in client.get("/arrangements").body


def test_auditors_read_it_without_forms_and_are_refused_by_the_commands_role_rule(world: PortalWorld) -> None:
    client = logged_in(world, "rso-auditor")
    page = client.get("/arrangements")
    assert page.status == 200 and "Sharing arrangements" in page.body and "add-arrangement" not in page.body
    answer = post(client, "/arrangements/add", ADD)
    assert answer.status == 403 and "/arrangement needs one of these roles" in answer.body
    assert "Recorded" not in answer.body
    assert cell("Document", "MoU TH-CA 2026") not in client.get("/arrangements").body


def test_others_get_404(world: PortalWorld) -> None:
    client = logged_in(world, "th-npoc")
    assert client.get("/arrangements").status == 404
    assert post_without_page(client).status == 404


def post_without_page(client: Client) -> Answer:
    board = client.get("/board")
    return client.post("/arrangements/add", {"csrf": board.field("csrf"), **ADD})


def test_statistics_and_bulletin_pages_count_the_harmonised_fields_from_the_minimum(world: PortalWorld) -> None:
    for n in range(4):
        world.say("my-officer", f"/alert to:TH tlp:amber topic:people-smuggling persons:2 nationalities:MM,BD "
                                f"method:sea Boat {n}")
    world.say("my-officer", "/alert to:TH tlp:amber topic:people-smuggling persons:1 nationalities:MM method:air "
                            "Flight")
    stats = html.unescape(logged_in(world, "rso-coordinator").get("/stats?period=2026-11").body)
    assert "Harmonised fields (5 items with them; counts under 5 are not shown):" in stats
    assert "Persons reported: 9" in stats and "By nationality: MM 5" in stats
    assert "BD 4" not in stats and "By method" not in stats  # sea 4, air 1: under the minimum
    bulletin = html.unescape(logged_in(world, "my-officer").get("/bulletin?month=2026-11").body)
    assert "Harmonised fields (5 items with them; counts under 5 are not shown):" in bulletin
    assert "By nationality: MM 5" in bulletin and "Boat 1" not in bulletin  # counts only, no AMBER text


def test_an_admin_records_one_and_the_same_again_is_refused_as_in_chat(world: PortalWorld) -> None:
    client = logged_in(world, "rso-admin")
    assert "Recorded arrangement" in post(client, "/arrangements/add", ADD).body
    again = post(client, "/arrangements/add", ADD)
    assert again.status == 400 and "Not recorded:" in again.body and again.body.count(cell("Document", "MoU TH-CA 2026")) == 1
