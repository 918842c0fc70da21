"""The console: act as any member of the directory, type commands, and see what each recipient gets.

    :as ID         act as another member (by contact id), e.g. :as th-npoc
    :in CHAT       post in a room (:in #network) or back in your direct chat (:in direct)
    :who           list the members you can act as
    :attach PATH   stage a photo or file for your next command (/alert, /request or /reply),
                   e.g. :attach ~/scans/passport.jpg; :attach alone lists them, :detach drops them
    :help          this help;  :quit (or end of input) leaves

/alert, /request and /correct take a body: after their first line, keep typing and end with an empty line
(or start the next command or :line); /cancel instead drops it unsent. A bare /alert or /request
(then an empty line) starts the guided form: answer each question on one line. Every other command
is sent at the end of its line. Staged files go with the next command you send (typed before it,
or within its body) and are then cleared; the [attachments] limits apply as on Matrix and Telegram.
Lines starting with # are comments (scripts).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Awaitable, Callable, TextIO

from alerts.attachments import AttachmentPolicy
from alerts.clock import Clock
from alerts.directory import Contact
from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import Attachment, InboundMessage
from alerts.roles import Role
from bot.connectors.console_files import describe, read_attachment
from handlers.command_list import COMMANDS
from handlers.ports import DirectorySource

CONSOLE_HELP = __doc__.split("\n\n", 1)[1].rstrip()
_BODY_COMMANDS = ("alert", "request", "correct")
CANCELLED = "Cancelled. Nothing was sent."


_META_WORDS = ("as", "in", "who", "help", "quit", "q", "exit", "attach", "detach")
_STAGING_WORDS = ("attach", "detach")  # within a body they stage files for it and the body goes on


def _command_word(line: str) -> str | None:
    stripped = line.strip()
    if len(stripped) < 2 or stripped[0] not in ("/", "!"):
        return None
    return stripped[1:].split(maxsplit=1)[0].split("@")[0].lower()


def takes_body(line: str) -> bool:
    """Whether the line opens a command whose body may follow on further lines."""
    return COMMANDS.name_for(_command_word(line) or "") in _BODY_COMMANDS


def _meta_word(line: str) -> str | None:
    stripped = line.strip()
    if not stripped.startswith(":"):
        return None
    words = stripped[1:].split(maxsplit=1)
    return words[0].lower() if words else ""


def ends_body(line: str) -> bool:
    """A blank line ends a body; so does the next command or console line, so scripts need no blanks."""
    stripped = line.strip()
    if not stripped:
        return True
    word = _meta_word(stripped)
    if word is not None:
        return word in _META_WORDS and word not in _STAGING_WORDS
    return COMMANDS.spec_for(_command_word(stripped) or "") is not None


class ConsoleSession:
    def __init__(
        self,
        directory: DirectorySource,
        submit: Callable[[InboundMessage], Awaitable[None]],
        clock: Clock,
        out: TextIO,
        read_line: Callable[[], Awaitable[str]],
        interactive: bool,
        attachments: AttachmentPolicy | None = None,
    ) -> None:
        self._directory = directory
        self._submit = submit
        self._clock = clock
        self._out = out
        self._read_line = read_line
        self._interactive = interactive
        self.persona: Contact = self._default_persona()
        self.chat: ChatRef = self._direct_chat()
        self._pending: str | None = None  # a line that ended a body and is still to be handled
        self._policy = attachments or AttachmentPolicy()
        self._staged: list[Attachment] = []  # :attach: files for the next command sent

    def _default_persona(self) -> Contact:
        contacts = list(self._directory.current().contacts.values())
        console = [c for c in contacts if any(i.platform is Platform.CONSOLE for i in c.identities)]
        if not console:
            raise SystemExit("No member of the directory has a console identity; add one (console:NAME) to the config.")
        officers = [c for c in console if Role.OFFICER in c.roles]
        return (officers or console)[0]

    def _identity(self, contact: Contact) -> UserRef:
        return next(i for i in contact.identities if i.platform is Platform.CONSOLE)

    def _direct_chat(self) -> ChatRef:
        return ChatRef(Platform.CONSOLE, "@" + self._identity(self.persona).user_id)

    def _say(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def _prompt(self, continuation: bool = False) -> None:
        if self._interactive:
            where = "" if self.chat == self._direct_chat() else f" {self.chat.chat_id}"
            files = f" +{len(self._staged)} file{'s' if len(self._staged) > 1 else ''}" if self._staged else ""
            self._out.write("… " if continuation else f"{self.persona.id}{where}{files}> ")
            self._out.flush()

    async def run(self) -> None:
        self._say(f"liaison-bot console. Acting as {self.persona.title(self._directory.current())}. "
                  ":help for help; :attach PATH sends a file with your next command.")
        while True:
            line = self._pending
            self._pending = None
            if line is None:
                self._prompt()
                line = await self._read_line()
            if not line:
                return
            text = line.rstrip("\n")
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith(":"):
                if not self._meta(stripped):
                    return
                continue
            if takes_body(stripped):
                body = await self._read_body(text)
                if body is None:
                    kept = f" Still staged for your next command: {self._files()} (:detach drops it)." \
                        if self._staged else ""
                    self._say(CANCELLED + kept)
                    continue
                text = body
            files: tuple[Attachment, ...] = ()
            if _command_word(text) is not None:  # a line that is no command (a form's answer) carries none
                files, self._staged = tuple(self._staged), []
            await self._submit(self._message(text, files))

    async def _read_body(self, first: str) -> str | None:
        """The command with its body; None when /cancel ended it."""
        lines = [first]
        while True:
            self._prompt(continuation=True)
            line = await self._read_line()
            if line and COMMANDS.name_for(_command_word(line) or "") == "cancel":
                return None
            if line and _meta_word(line) in _STAGING_WORDS:
                self._meta(line.strip())
                continue
            if not line or ends_body(line):
                self._pending = line if line and line.strip() else None
                return "\n".join(lines)
            lines.append(line.rstrip("\n"))

    def _message(self, text: str, attachments: tuple[Attachment, ...] = ()) -> InboundMessage:
        event_id = f"console-{uuid.uuid4().hex}"
        return InboundMessage(
            event_id=event_id,
            sender=self._identity(self.persona),
            chat=self.chat,
            text=text,
            received_at=self._clock.now(),
            message_id=event_id,
            attachments=attachments,
        )

    def _meta(self, line: str) -> bool:
        word, _, arg = line[1:].partition(" ")
        word, arg = word.lower(), arg.strip()
        directory = self._directory.current()
        if word in ("quit", "q", "exit"):
            return False
        if word == "help":
            self._say(CONSOLE_HELP)
        elif word == "who":
            for contact in sorted(directory.contacts.values(), key=lambda c: c.id):
                roles = ",".join(sorted(r.value for r in contact.roles))
                self._say(f"  {contact.id:<16} {contact.title(directory)} [{roles}]")
        elif word == "attach":
            self._attach(arg)
        elif word == "detach":
            self._say(f"Dropped {self._files()}." if self._staged else "No file is staged.")
            self._staged = []
        elif word == "as":
            persona = directory.contact(arg)
            if persona is None or not any(i.platform is Platform.CONSOLE for i in persona.identities):
                self._say(f"No member {arg!r} on the console. :who lists them. Example: :as th-npoc")
            else:
                # Staged files were chosen for the member acted as: never sent as someone else.
                dropped = f" Dropped {self._files()} staged before." if self._staged else ""
                self._staged = []
                self.persona, self.chat = persona, ChatRef(Platform.CONSOLE, "@" + self._identity(persona).user_id)
                self._say(f"Now acting as {persona.title(directory)}.{dropped}")
        elif word == "in":
            if arg in ("", "direct", "dm"):
                self.chat = self._direct_chat()
                self._say("Now in your direct chat with the bot.")
            else:
                chat = ChatRef(Platform.CONSOLE, arg if arg.startswith("#") else "#" + arg)
                room = directory.room(chat)
                self.chat = chat
                self._say(f"Now in {room.name if room else chat.chat_id}.")
        else:
            self._say(f"Unknown console command :{word}. {CONSOLE_HELP.splitlines()[0].strip()} … (:help for all)")
        return True

    def _files(self) -> str:
        return ", ".join(describe(a) for a in self._staged)

    def _attach(self, typed: str) -> None:
        if not typed:
            self._say(f"Staged for your next command: {self._files()}." if self._staged
                      else "No file is staged. Example: :attach ~/scans/passport.jpg")
            return
        read = read_attachment(typed, self._policy, self._staged)
        if isinstance(read, str):
            self._say(read)
            return
        self._staged.append(read)
        self._say(f"Staged {describe(read)}: it goes with your next command (/alert, /request or /reply). "
                  ":detach drops it.")


def stdin_reader(stream: TextIO = sys.stdin) -> Callable[[], Awaitable[str]]:
    async def read_line() -> str:
        return await asyncio.get_running_loop().run_in_executor(None, stream.readline)

    return read_line
