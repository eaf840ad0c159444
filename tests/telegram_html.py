"""Telegram's HTML parse mode: validation, plain text and message entities.

This re-implements the rules of the parser Telegram's servers run for ``parse_mode=HTML``
(tdlib's ``parse_html``) so that a fake Bot API server rejects exactly the texts Telegram would
reject, with the same reasons, and returns the same plain text and entities:

* Supported tags: ``b strong i em u ins s strike del a code pre blockquote tg-spoiler tg-emoji``
  and ``span class="tg-spoiler"``. Tag names are case-insensitive; unknown attributes are ignored.
* Tags must be closed and properly nested; ``</>`` closes the innermost open tag.
* Only ``&lt; &gt; &amp; &quot;`` and numeric references (``&#123;``, ``&#x1F600;``) are decoded.
* ``<pre><code class="language-x">`` becomes one ``pre`` entity with ``language`` ``x``.
* Entity offsets and lengths count UTF-16 code units, as everywhere in the Bot API.

One deliberate difference: Telegram keeps a ``&`` that does not start a known entity as a
literal ``&``, although the Bot API documentation requires it to be escaped. With
``strict_ampersand=True`` (the default) such a ``&`` in the text is rejected, because a bot that
forgets ``html.escape`` for ``&`` forgets it for ``<`` too, and that one does break in production.
Inside attribute values (URLs) Telegram's lenient behaviour is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SUPPORTED_TAGS = frozenset(
    "a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote".split()
)

# Tags whose closing produces an entity of a fixed type.
_SIMPLE_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only class="tg-spoiler" is accepted for span
}

# Order of entities that cover the same span, outermost first (Telegram's type priorities).
_SORT_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# Telegram's whitespace inside tags (its C parser also treats the terminating NUL as space).
_SPACES = frozenset(" \t\r\n\v\0")
_ENTITY_RE = re.compile(r"&(?:#x([0-9a-fA-F]*)|#([0-9]*)|([A-Za-z]*));?")
_PLAIN_RUN_RE = re.compile(r"[^<&]+")
_NAME_TOKEN_RE = re.compile(r"[A-Za-z0-9.\-]*")
_USER_LINK_RE = re.compile(r"tg://user\?id=(\d+)$")


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(error)`` is the reason Telegram reports."""


@dataclass(frozen=True)
class ParsedText:
    """Result of parsing: the text a user sees and the entities describing its formatting."""

    text: str
    entities: list[dict[str, Any]]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for lengths and offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse_html(text: str, *, strict_ampersand: bool = True) -> ParsedText:
    """Parse ``text`` like Telegram does for parse_mode HTML; raise HtmlParseError if invalid."""
    return _HtmlParser(text, strict_ampersand).parse()


@dataclass
class _OpenTag:
    name: str
    argument: str  # href, code language, span class suffix or custom emoji id
    expandable: bool
    utf16_offset: int  # where the entity starts in the output text
    output_index: int  # index into the output pieces, to recover the link text of <a>
    byte_offset: int  # where the tag starts in the input, for error messages


def _decode_entity(src: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference starting at ``src[pos] == "&"``.

    Returns the character and the position after the reference, or None when Telegram would
    keep the ``&`` literally (unknown name, zero, out of range or overlong number).
    """
    match = _ENTITY_RE.match(src, pos)
    assert match is not None  # the name alternative can match the empty string
    hex_digits, dec_digits, name = match.groups()
    if name is not None:
        char = _NAMED_ENTITIES.get(name)
        return None if char is None else (char, match.end())
    digits = hex_digits if hex_digits is not None else dec_digits
    digits_end = match.end(1) if hex_digits is not None else match.end(2)
    code = int(digits, 16 if hex_digits is not None else 10) if digits else 0
    if code == 0 or code >= 0x10FFFF or digits_end - pos >= 10:
        return None
    return chr(code), match.end()


@dataclass
class _HtmlParser:
    src: str
    strict_ampersand: bool
    pos: int = 0
    utf16_offset: int = 0
    output: list[str] = field(default_factory=list)
    open_tags: list[_OpenTag] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)

    def parse(self) -> ParsedText:
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == "&":
                self._character_reference()
            elif char == "<" and self.src.startswith("</", self.pos):
                self._end_tag()
            elif char == "<":
                self._start_tag()
            else:
                run = _PLAIN_RUN_RE.match(self.src, self.pos)
                assert run is not None
                self._emit(run.group())
                self.pos = run.end()
        if self.open_tags:
            name = self.open_tags[-1].name
            raise HtmlParseError(f"Can't find end tag corresponding to start tag {name}")
        text = "".join(self.output)
        if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
            raise HtmlParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)  # a language only survives on pre
        self.entities.sort(key=lambda e: (e["offset"], -e["length"], _SORT_PRIORITY[e["type"]]))
        return ParsedText(text, self.entities)

    # -- helpers -------------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        self.output.append(text)
        self.utf16_offset += utf16_len(text)

    def _byte_offset(self, pos: int) -> int:
        return len(self.src[:pos].encode("utf-8", "surrogatepass"))

    def _error(self, message: str, pos: int) -> HtmlParseError:
        return HtmlParseError(f"{message} at byte offset {self._byte_offset(pos)}")

    def _at(self, pos: int) -> str:
        """Character at ``pos``, or NUL past the end (mirrors the C parser's terminator)."""
        return self.src[pos] if pos < len(self.src) else "\0"

    def _skip_spaces(self, pos: int) -> int:
        while pos < len(self.src) and self.src[pos] in _SPACES:
            pos += 1
        return pos

    # -- syntax --------------------------------------------------------------------------------

    def _character_reference(self) -> None:
        decoded = _decode_entity(self.src, self.pos)
        if decoded is None:
            if self.strict_ampersand:
                raise self._error('Character "&" must be escaped as "&amp;"', self.pos)
            self._emit("&")
            self.pos += 1
            return
        char, self.pos = decoded
        self._emit(char)

    def _start_tag(self) -> None:
        begin = self.pos
        i = begin + 1
        while self._at(i) not in _SPACES and self._at(i) != ">":
            i += 1
        if i >= len(self.src):
            raise self._error("Unclosed start tag", begin)
        name = self.src[begin + 1 : i].lower()
        if name not in SUPPORTED_TAGS:
            raise self._error(f'Unsupported start tag "{name}"', begin)
        argument, expandable, i = self._attributes(name, begin, i)
        if name == "span" and argument != "spoiler":
            raise self._error('Tag "span" must have class "tg-spoiler"', begin)
        self.open_tags.append(
            _OpenTag(name, argument, expandable, self.utf16_offset, len(self.output), begin)
        )
        self.pos = i + 1

    def _attributes(self, tag: str, begin: int, i: int) -> tuple[str, bool, int]:
        """Read the attributes of a start tag; return (argument, expandable, index of '>')."""
        argument, expandable = "", False
        while True:
            i = self._skip_spaces(i)
            if self._at(i) == ">":
                return argument, expandable, i
            if i >= len(self.src):
                raise self._error("Unclosed start tag", begin)
            name_begin = i
            while self._at(i) not in _SPACES and self._at(i) not in "=>":
                i += 1
            attribute = self.src[name_begin:i]
            if not attribute:
                raise self._error(f'Empty attribute name in the tag "{tag}"', begin)
            i = self._skip_spaces(i)
            if tag == "blockquote" and attribute.lower() == "expandable" and self._at(i) != "=":
                expandable = True  # the only attribute Telegram accepts without a value
                continue
            if self._at(i) != "=":
                raise self._error(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}"', begin
                )
            i = self._skip_spaces(i + 1)
            if i >= len(self.src):
                raise self._error(f'Unclosed start tag "{tag}"', begin)
            value, i = self._attribute_value(i)
            if i >= len(self.src):
                raise self._error("Unclosed start tag", begin)
            argument = self._tag_argument(tag, attribute, value) or argument

    def _attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.src[i]
        if quote not in "'\"":
            # An unquoted value is an HTML name token: letters, digits, periods and hyphens.
            token = _NAME_TOKEN_RE.match(self.src, i)
            assert token is not None
            end = token.end()
            if self._at(end) not in _SPACES and self._at(end) != ">":
                raise self._error("Unexpected end of name token", i)
            return token.group().lower(), end
        i += 1
        pieces: list[str] = []
        while i < len(self.src) and self.src[i] != quote:
            decoded = _decode_entity(self.src, i) if self.src[i] == "&" else None
            if decoded is None:
                pieces.append(self.src[i])
                i += 1
            else:
                pieces.append(decoded[0])
                i = decoded[1]
        if i < len(self.src):
            i += 1  # the closing quote
        return "".join(pieces), i

    @staticmethod
    def _tag_argument(tag: str, attribute: str, value: str) -> str | None:
        if tag == "a" and attribute == "href":
            return value
        if tag == "code" and attribute == "class" and value.startswith("language-"):
            return value[len("language-") :]
        if tag == "span" and attribute == "class" and value.startswith("tg-"):
            return value[len("tg-") :]
        if tag == "tg-emoji" and attribute == "emoji-id":
            return value
        return None

    def _end_tag(self) -> None:
        begin = self.pos
        if not self.open_tags:
            raise self._error("Unexpected end tag", begin)
        i = begin + 2
        while self._at(i) not in _SPACES and self._at(i) != ">":
            i += 1
        end_name = self.src[begin + 2 : i].lower()
        i = self._skip_spaces(i)
        if self._at(i) != ">":
            raise self._error("Unclosed end tag", begin)
        tag = self.open_tags[-1]
        if end_name and end_name != tag.name:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {self._byte_offset(begin)}, "
                f'expected "</{tag.name}>", found "</{end_name}>"'
            )
        self.open_tags.pop()
        self._close(tag)
        self.pos = i + 1

    # -- entities ------------------------------------------------------------------------------

    def _close(self, tag: _OpenTag) -> None:
        length = self.utf16_offset - tag.utf16_offset
        if length <= 0:
            return  # Telegram drops empty entities
        entity: dict[str, Any] = {"offset": tag.utf16_offset, "length": length}
        previous = self.entities[-1] if self.entities else None
        same_span = (
            previous is not None
            and previous["offset"] == tag.utf16_offset
            and previous["length"] == length
        )
        if tag.name in _SIMPLE_ENTITY_TYPES:
            entity["type"] = _SIMPLE_ENTITY_TYPES[tag.name]
        elif tag.name == "tg-emoji":
            if not tag.argument.isdigit() or int(tag.argument) == 0:
                raise HtmlParseError("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=tag.argument)
        elif tag.name == "a":
            url = tag.argument or "".join(self.output[tag.output_index :])
            link = self._link_entity(url)
            if link is None:
                return
            entity.update(link)
        elif tag.name == "blockquote":
            entity["type"] = "expandable_blockquote" if tag.expandable else "blockquote"
        elif tag.name == "pre" and same_span and previous["type"] == "code":
            # <pre><code class="language-x">...</code></pre> is one pre entity with a language.
            if previous.get("language"):
                previous["type"] = "pre"
                return
            entity["type"] = "pre"
        elif tag.name == "code" and same_span and previous["type"] == "pre" and tag.argument:
            previous["language"] = tag.argument
            return
        else:
            entity["type"] = tag.name  # "pre" or "code"
            if tag.name == "code" and tag.argument:
                entity["language"] = tag.argument
        self.entities.append(entity)

    @staticmethod
    def _link_entity(url: str) -> dict[str, Any] | None:
        user = _USER_LINK_RE.match(url)
        if user:
            return {
                "type": "text_mention",
                "user": {"id": int(user.group(1)), "is_bot": False, "first_name": ""},
            }
        if not url or any(char.isspace() for char in url):
            return None  # Telegram silently drops links it cannot use
        if "://" not in url and not url.startswith("tg:"):
            url = "http://" + url
        return {"type": "text_link", "url": url}
