"""Domain exceptions: what a user or an admin can be told in plain words."""


class DocumentError(ValueError):
    """A document cannot be used: empty, binary, not UTF-8, too large, or a bad name."""


class IndexCorrupt(RuntimeError):
    """An index version on disk is unreadable or does not match its manifest."""
