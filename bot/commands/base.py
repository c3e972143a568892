"""What a command is, and the registry of commands by tag."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from sqlmodel import Session

    from bot.core.app import App
    from bot.core.config import Member
    from bot.filing.context import MessageContext
    from bot.store.models import Case


class CommandError(Exception):
    """The command cannot be carried out; the message goes into the transcript."""


@dataclass
class CommandContext:
    """One command invocation: who, on which case, with what argument text."""

    msg: MessageContext
    member: Member
    case: Case
    args: str

    @property
    def session(self) -> Session:
        """The message's transaction."""
        return self.msg.session

    @property
    def app(self) -> App:
        """The application context."""
        return self.msg.app


@dataclass
class CommandResult:
    """What the transcript says about one command, and which fields changed."""

    text: str
    changed: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    # Structured output the transcript template renders (e.g. #status, #help).
    data: dict[str, Any] = field(default_factory=dict)


class Command:
    """Base class: subclasses set `name` and implement `run`; the docstring is #help."""

    name: ClassVar[str]
    # Recused members may still use these (e.g. #help, #status of their own recusal).
    allowed_when_recused: ClassVar[bool] = False
    # False when the argument is case content the transcript must not repeat.
    echo_arguments: ClassVar[bool] = True

    def run(self, cc: CommandContext) -> CommandResult:
        """Carry out the command (raise CommandError to report a failure)."""
        raise NotImplementedError

    @classmethod
    def help_text(cls) -> str:
        """The command's help: its docstring, cleaned up."""
        return inspect.cleandoc(cls.__doc__ or "")


REGISTRY: dict[str, Command] = {}


def command(cls: type[Command]) -> type[Command]:
    """Class decorator registering a command under its `name` (without '#')."""
    REGISTRY[cls.name] = cls()
    return cls
