"""The one error a rule text can raise: what was expected, what was found, and where."""

from __future__ import annotations


class RuleError(ValueError):
    """A rule text cannot be read.

    Attributes
    ----------
    message
        What is wrong, naming what was expected.
    position
        0-based character offset in the rule text where the problem starts.
    expected
        The words or token kinds that would have been accepted there (may be empty).
    found
        A description of what was there instead.
    """

    def __init__(
        self,
        message: str,
        position: int,
        expected: tuple[str, ...] = (),
        found: str | None = None,
    ) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position
        self.expected = expected
        self.found = found

    def pointer(self, text: str) -> str:
        """Return the rule's line with a caret under the error position, for display.

        Parameters
        ----------
        text
            The rule text that was parsed.

        Returns
        -------
        str
            Two lines: the text and a caret line (full-width characters count double).
        """
        line_start = text.rfind("\n", 0, self.position) + 1
        line_end = text.find("\n", self.position)
        line = text[line_start : None if line_end < 0 else line_end]
        before = text[line_start : self.position]
        pad = sum(2 if ord(c) > 0x2E80 else 1 for c in before)
        return f"{line}\n{' ' * pad}^"
