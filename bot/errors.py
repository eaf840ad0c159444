"""Domain exceptions: what a user or an admin can be told in plain words."""


class DocumentError(ValueError):
    """A document cannot be used: empty, binary, not UTF-8, too large, or a bad name.

    `reason` names the refusal (the bot words it as the i18n text `upload_<reason>` in the
    admin's language) and `values` fill that text in; str() is the English sentence.
    """

    def __init__(self, message: str, reason: str = "", **values: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.values = values


class FetchError(ValueError):
    """A web address cannot be added: refused, unreachable, too slow, too large or not a page.

    Like DocumentError, `reason` names the refusal (worded as the i18n text `url_<reason>`)
    and `values` fill that text in; str() is the English sentence.
    """

    def __init__(self, message: str, reason: str, **values: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.values = values


class IndexCorrupt(RuntimeError):
    """An index version on disk is unreadable or does not match its manifest."""
