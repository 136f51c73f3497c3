"""What the libraries raise for input a person gave and can put right, as opposed to a fault in the code.

fairskin_core and review_data refuse such input with these exceptions and a message written for
the person (ManifestError, ModelFolderError, StudyError, AccountError... are ValueErrors): the
command line prints the message on one line, the web app shows it; anything else is a fault and
keeps its traceback.

A message about a value the person passed names its parameter as ``{name}`` (`ParameterError`, or
`NamesParameters` in an exception that must stay of another type), so that each front end says it
in its own words: `worded` with the front end's namer.
"""

from __future__ import annotations

from collections.abc import Callable

USER_MISTAKES = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError)


class NamesParameters:
    """A refusal whose message names parameters as ``{name}``, so that each front end says them in its words.

    The library says a parameter's own name (``fst``), the command line its option (``--fst``), the
    web app its field's label; the message is written once, here, for all of them. Mixed into an
    exception of the type its callers catch: `ParameterError` (a ValueError), or for example
    ``class OutputExistsError(NamesParameters, FileExistsError)``. Without parameters it is a plain
    message, as the type's own exception would have it."""

    def __init__(self, template: str, *parameters: str):
        self.template, self.parameters = template, parameters
        super().__init__(self.say(str))

    def say(self, name_of: Callable[[str], str]) -> str:
        """The message with each parameter named by ``name_of(parameter)``."""
        message = self.template
        for parameter in self.parameters:
            message = message.replace(f"{{{parameter}}}", name_of(parameter))
        return message


class ParameterError(NamesParameters, ValueError):
    """A refused value (a ValueError), its message naming parameters as ``{name}`` (`NamesParameters`)."""


def worded(exc: BaseException, name_of: Callable[[str], str]) -> str:
    """``exc``'s message with each parameter it names called ``name_of(parameter)``; any other exception's as it is."""
    return exc.say(name_of) if isinstance(exc, NamesParameters) else str(exc)
