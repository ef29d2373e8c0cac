"""Notification Hubs tags and tag expressions: validation, parsing, printing and matching (NH-REST §5)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.identifiers import MAX_INSTALLATION_ID_LENGTH

__all__ = [
    "MAX_EXPRESSION_DEPTH",
    "MAX_EXPRESSION_TAGS",
    "MAX_OR_ONLY_EXPRESSION_TAGS",
    "MAX_TAGS_PER_INSTALLATION",
    "MAX_TAG_LENGTH",
    "And",
    "Not",
    "Or",
    "TagExpression",
    "TagRef",
    "canonical_tag",
    "expression_tags",
    "format_tag_expression",
    "is_system_tag",
    "matches",
    "parse_tag_expression",
    "validate_installation_tags",
    "validate_tag",
]

MAX_TAG_LENGTH = 120
MAX_TAGS_PER_INSTALLATION = 60
MAX_EXPRESSION_TAGS = 6
MAX_OR_ONLY_EXPRESSION_TAGS = 20
# Not from NH: bounds recursion so that hostile input fails with a validation error, not RecursionError.
MAX_EXPRESSION_DEPTH = 32

_TAG_CHARS = "A-Za-z0-9_@#.:-"
_PLAIN_TAG = re.compile(f"[{_TAG_CHARS}]+")
_SYSTEM_TAG = re.compile(r"\$(InstallationId|UserId):\{([-_@#.:=A-Za-z0-9]+)\}", re.IGNORECASE)
_SYSTEM_PREFIXES = {"installationid": "$InstallationId", "userid": "$UserId"}
_LOCATION = "tagExpression"

_Normaliser = Callable[[str], str]


@dataclass(frozen=True)
class TagRef:
    """A single tag operand."""

    name: str


@dataclass(frozen=True)
class Not:
    """``!operand``."""

    operand: TagExpression


@dataclass(frozen=True)
class And:
    """``left && right``."""

    left: TagExpression
    right: TagExpression


@dataclass(frozen=True)
class Or:
    """``left || right``."""

    left: TagExpression
    right: TagExpression


TagExpression = TagRef | Not | And | Or


def is_system_tag(tag: str) -> bool:
    """True for the service-assigned forms ``$InstallationId:{…}`` and ``$UserId:{…}``."""
    return _SYSTEM_TAG.fullmatch(tag) is not None


def canonical_tag(tag: str) -> str:
    """Spell a system tag's prefix canonically (``$userid:{u}`` -> ``$UserId:{u}``); other tags are unchanged."""
    match = _SYSTEM_TAG.fullmatch(tag)
    if match is None:
        return tag
    return f"{_SYSTEM_PREFIXES[match.group(1).lower()]}:{{{match.group(2)}}}"


def validate_tag(tag: str, *, location: str = "tag") -> None:
    """Check one tag: 1-120 of ``A-Z a-z 0-9 _ @ # . : -``, or ``$InstallationId:{id}`` / ``$UserId:{id}``.

    The id inside a system tag follows the installation-id rules (up to 200 characters, ``=`` allowed).

    Raises NhValidationError saying what is wrong.
    """
    problem = _tag_problem(tag)
    if problem is not None:
        raise NhValidationError(f"invalid tag {tag[:40]!r}: {problem}", [FieldError(location, problem)])


def _tag_problem(tag: str) -> str | None:
    if not tag:
        return "a tag must not be empty"
    if tag.startswith("$"):
        match = _SYSTEM_TAG.fullmatch(tag)
        if match is None:
            return "system tags must be written $InstallationId:{id} or $UserId:{id}, braces included"
        if len(match.group(2)) > MAX_INSTALLATION_ID_LENGTH:
            return f"the id in a system tag may have at most {MAX_INSTALLATION_ID_LENGTH} characters"
        return None
    if len(tag) > MAX_TAG_LENGTH:
        return f"a tag may have at most {MAX_TAG_LENGTH} characters, this one has {len(tag)}"
    if _PLAIN_TAG.fullmatch(tag) is None:
        bad = next(char for char in tag if _PLAIN_TAG.fullmatch(char) is None)
        return f"character {bad!r} is not allowed; tags may contain letters, digits and _ @ # . : -"
    return None


def validate_installation_tags(tags: Sequence[str], *, max_tags: int = MAX_TAGS_PER_INSTALLATION) -> None:
    """Check the ``tags`` of an installation: each tag valid, no system tags, no duplicates, at most ``max_tags``.

    System tags are refused because the service assigns them; letting a device claim ``$UserId:{…}`` would let
    it receive another user's pushes. Raises NhValidationError listing every tag at fault.
    """
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, tag in enumerate(tags):
        location = f"/tags/{index}"
        problem = _tag_problem(tag)
        if problem is None and tag.startswith("$"):
            problem = "system tags are assigned by the service and cannot be set"
        if problem is None and tag in seen:
            problem = f"duplicate tag {tag!r}"
        if problem is not None:
            errors.append(FieldError(location, problem))
        seen.add(tag)
    if len(tags) > max_tags:
        errors.append(
            FieldError("/tags", f"an installation may have at most {max_tags} tags, this one has {len(tags)}")
        )
    if errors:
        raise NhValidationError(f"invalid installation tags: {errors[0].message}", errors)


# --- tag expressions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "tag", "!", "&&", "||", "(", ")", "end"
    text: str
    position: int  # 1-based character position in the expression


def _syntax_error(message: str) -> NhValidationError:
    return NhValidationError(f"invalid tag expression: {message}", [FieldError(_LOCATION, message)])


def _tokens(text: str) -> Iterator[_Token]:
    index = 0
    while index < len(text):
        char = text[index]
        position = index + 1
        if char in " \t":
            index += 1
        elif char in "()!":
            yield _Token(char, char, position)
            index += 1
        elif char in "&|":
            if text[index : index + 2] != char * 2:
                raise _syntax_error(f"single {char!r} at position {position}; write {char * 2!r}")
            yield _Token(char * 2, char * 2, position)
            index += 2
        elif char == "$":
            match = _SYSTEM_TAG.match(text, index)
            if match is None:
                raise _syntax_error(
                    f"invalid system tag at position {position}; write $InstallationId:{{id}} or $UserId:{{id}}"
                )
            yield _tag_token(match.group(0), position)
            index = match.end()
        else:
            match = _PLAIN_TAG.match(text, index)
            if match is None:
                raise _syntax_error(f"unexpected character {char!r} at position {position}")
            yield _tag_token(match.group(0), position)
            index = match.end()
    yield _Token("end", "", len(text) + 1)


def _tag_token(tag: str, position: int) -> _Token:
    problem = _tag_problem(tag)
    if problem is not None:
        raise _syntax_error(f"the tag at position {position} is invalid: {problem}")
    return _Token("tag", tag, position)


class _Parser:
    """Recursive descent: or := and ('||' and)*; and := unary ('&&' unary)*; unary := '!' unary | '(' or ')' | tag."""

    def __init__(self, text: str) -> None:
        self._tokens = list(_tokens(text))
        self._index = 0

    @property
    def _current(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def parse(self) -> TagExpression:
        if self._current.kind == "end":
            raise _syntax_error("the expression is empty")
        expression = self._or(0)
        token = self._current
        if token.kind == ")":
            raise _syntax_error(f"')' at position {token.position} has no matching '('")
        if token.kind != "end":
            raise _syntax_error(f"expected '&&', '||' or the end at position {token.position}, found {token.text!r}")
        return expression

    def _or(self, depth: int) -> TagExpression:
        expression = self._and(depth)
        while self._current.kind == "||":
            self._advance()
            expression = Or(expression, self._and(depth))
        return expression

    def _and(self, depth: int) -> TagExpression:
        expression = self._unary(depth)
        while self._current.kind == "&&":
            self._advance()
            expression = And(expression, self._unary(depth))
        return expression

    def _unary(self, depth: int) -> TagExpression:
        token = self._advance()
        if token.kind in ("!", "(") and depth >= MAX_EXPRESSION_DEPTH:
            raise _syntax_error(f"nesting deeper than {MAX_EXPRESSION_DEPTH} levels at position {token.position}")
        if token.kind == "!":
            return Not(self._unary(depth + 1))
        if token.kind == "(":
            expression = self._or(depth + 1)
            closing = self._advance()
            if closing.kind != ")":
                found = "the end" if closing.kind == "end" else repr(closing.text)
                raise _syntax_error(
                    f"'(' at position {token.position} is not closed: expected ')' at position "
                    f"{closing.position}, found {found}"
                )
            return expression
        if token.kind == "tag":
            return TagRef(token.text)
        found = "the end" if token.kind == "end" else repr(token.text)
        raise _syntax_error(f"expected a tag, '!' or '(' at position {token.position}, found {found}")


def parse_tag_expression(text: str) -> TagExpression:
    """Parse a tag expression: precedence ``!`` > ``&&`` > ``||``, parentheses, whitespace optional.

    At most 6 tags, or 20 when the only operator is ``||``. Raises NhValidationError saying what is wrong and at
    which (1-based) character position.
    """
    expression = _Parser(text).parse()
    count = sum(1 for _ in _walk_tags(expression))
    if _only_or(expression):
        if count > MAX_OR_ONLY_EXPRESSION_TAGS:
            raise _syntax_error(
                f"the expression has {count} tags; at most {MAX_OR_ONLY_EXPRESSION_TAGS} are allowed "
                "when it uses only '||'"
            )
    elif count > MAX_EXPRESSION_TAGS:
        raise _syntax_error(
            f"the expression has {count} tags; at most {MAX_EXPRESSION_TAGS} are allowed when it uses '&&' or '!'"
        )
    return expression


def _only_or(expression: TagExpression) -> bool:
    if isinstance(expression, TagRef):
        return True
    if isinstance(expression, Or):
        return _only_or(expression.left) and _only_or(expression.right)
    return False


def _walk_tags(expression: TagExpression) -> Iterator[str]:
    if isinstance(expression, TagRef):
        yield expression.name
    elif isinstance(expression, Not):
        yield from _walk_tags(expression.operand)
    else:
        yield from _walk_tags(expression.left)
        yield from _walk_tags(expression.right)


def expression_tags(expr: TagExpression) -> list[str]:
    """The distinct tags an expression mentions, in order of first appearance."""
    return list(dict.fromkeys(_walk_tags(expr)))


def format_tag_expression(expr: TagExpression) -> str:
    """Print an expression with the fewest parentheses that parse back to the same tree."""
    if isinstance(expr, TagRef):
        return expr.name
    if isinstance(expr, Not):
        operand = format_tag_expression(expr.operand)
        return f"!{operand}" if isinstance(expr.operand, TagRef | Not) else f"!({operand})"
    if isinstance(expr, And):
        left = _wrapped(expr.left, Or)
        right = _wrapped(expr.right, (Or, And))
        return f"{left} && {right}"
    return f"{format_tag_expression(expr.left)} || {_wrapped(expr.right, Or)}"


def _wrapped(expr: TagExpression, kinds: type | tuple[type, ...]) -> str:
    text = format_tag_expression(expr)
    return f"({text})" if isinstance(expr, kinds) else text


def matches(expr: TagExpression, tags: Collection[str], *, case_sensitive: bool = True) -> bool:
    """True when a registration carrying ``tags`` satisfies ``expr``.

    System-tag prefixes always compare case-insensitively; everything else per ``case_sensitive``.
    """
    normalise = _normaliser(case_sensitive)
    present = {normalise(tag) for tag in tags}
    return _evaluate(expr, present, normalise)


def _normaliser(case_sensitive: bool) -> _Normaliser:
    if case_sensitive:
        return canonical_tag
    return _casefold


def _casefold(tag: str) -> str:
    return tag.casefold()


def _evaluate(expr: TagExpression, present: set[str], normalise: _Normaliser) -> bool:
    if isinstance(expr, TagRef):
        return normalise(expr.name) in present
    if isinstance(expr, Not):
        return not _evaluate(expr.operand, present, normalise)
    if isinstance(expr, And):
        return _evaluate(expr.left, present, normalise) and _evaluate(expr.right, present, normalise)
    return _evaluate(expr.left, present, normalise) or _evaluate(expr.right, present, normalise)
