"""HTML for Telegram: escaped, the banner in bold, split on line ends within 4,096 characters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.connectors.telegram.formatting import LIMIT, complete_alone, html_parts, utf16_len
from tests.telegram.fake_bot_state import shown_text

BANNER = "[TLP:AMBER] A-2026-0042 · URGENT alert"


def test_user_text_is_escaped_and_the_banner_is_bold() -> None:
    [part] = html_parts(f"{BANNER}\nFrom: <script>alert(1)</script> & \"friends\" > 3")
    assert part.startswith(f"<b>{BANNER}</b>\n")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"friends\" &gt; 3" in part
    assert shown_text(part) == f"{BANNER}\nFrom: <script>alert(1)</script> & \"friends\" > 3"


def test_text_without_a_banner_is_only_escaped() -> None:
    assert html_parts("Acknowledged <A-1> & done") == ["Acknowledged &lt;A-1&gt; &amp; done"]


def test_a_long_delivery_splits_on_line_ends_and_every_part_carries_the_banner() -> None:
    lines = [f"line {n:04d} " + "x" * 80 for n in range(120)]  # about 10,600 characters
    parts = html_parts("\n".join([BANNER, *lines]))
    assert len(parts) == 3
    shown = [shown_text(p) for p in parts]
    assert all(utf16_len(s) <= LIMIT for s in shown)
    assert shown[0].startswith(f"{BANNER} (part 1/3)\n") and shown[2].startswith(f"{BANNER} (continued 3/3)\n")
    body = [line for s in shown for line in s.split("\n")[1:]]
    assert body == lines  # nothing lost, nothing cut inside a line


def test_a_line_longer_than_a_message_breaks_at_a_space() -> None:
    words = " ".join(["word"] * 3000)  # 14,999 characters on one line
    shown = [shown_text(p) for p in html_parts(f"{BANNER}\n{words}")]
    assert all(utf16_len(s) <= LIMIT for s in shown)
    assert " ".join(s.split("\n", 1)[1] for s in shown) == words


def test_characters_outside_the_basic_plane_count_twice() -> None:
    emoji = "\N{POLICE CARS REVOLVING LIGHT}" * 3000  # 6,000 UTF-16 units in 3,000 characters
    parts = html_parts(emoji)
    assert len(parts) == 2 and all(utf16_len(shown_text(p)) <= LIMIT for p in parts)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=["Cs"]), max_size=300), max_size=60))
def test_every_part_parses_and_fits(lines: list[str]) -> None:
    for part in html_parts("\n".join([BANNER, *lines])):
        assert utf16_len(shown_text(part)) <= LIMIT


def test_command_hints_are_code_and_only_complete_commands_stay_plain() -> None:
    [part] = html_parts("Acknowledged A-2026-0001. Send feedback with /reply A-2026-0001 <text>. Commands: /help, "
                        "/mine; /ack alone needs a reference. Flight KUL/BKK, see /etc/hosts.")
    assert "<code>/reply A-2026-0001 &lt;text&gt;</code>." in part
    assert "Commands: /help, /mine;" in part and "<code>/ack</code> alone" in part
    assert "KUL/BKK" in part and "/etc/hosts" in part  # not commands to Telegram either
    assert shown_text(part).startswith("Acknowledged A-2026-0001. Send feedback with /reply A-2026-0001 <text>.")


def test_help_lines_keep_their_words_but_no_incomplete_command_is_tappable() -> None:
    from handlers.command_list import COMMANDS
    from tests.telegram.fake_bot_state import Sent, parse_html

    text = "\n".join(spec.help_line for spec in COMMANDS.specs)
    for part in html_parts(text):
        shown, entities = parse_html(part)
        tappable = Sent(1, 1, shown, part, entities=entities).tappable_commands()
        assert all(complete_alone(command[1:]) for command in tappable), tappable
        assert "/mine" in tappable and "/whoami" in tappable
    assert "\n".join(shown_text(p) for p in html_parts(text)) == text
