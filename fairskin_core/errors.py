"""What the libraries raise for input a person gave and can put right, as opposed to a fault in the code.

fairskin_core and review_data refuse such input with these exceptions and a message written for
the person (ManifestError, ModelFolderError, StudyError, AccountError... are ValueErrors): the
command line prints the message on one line, the web app shows it; anything else is a fault and
keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Callable

USER_MISTAKES = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError)


class ParameterError(ValueError):
    """A refused value, its message naming parameters as ``{name}`` so that each front end says them in its words.

    The library says a parameter's own name (``fst``), the command line its option (``--fst``), the
    web app its field's label; the message is written once, here, for all of them."""

    def __init__(self, template: str, *parameters: str):
        self.template, self.parameters = template, parameters
        super().__init__(self.say(str))

    def say(self, name_of: Callable[[str], str]) -> str:
        """The message with each parameter named by ``name_of(parameter)``."""
        message = self.template
        for parameter in self.parameters:
            message = message.replace(f"{{{parameter}}}", name_of(parameter))
        return message
