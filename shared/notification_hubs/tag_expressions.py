"""Notification Hubs tag expressions (NH-REST §5): the tree, the parser with NH's limits, and printing.

The client checks every expression before it sends it (validate_tag_expression), and the domain checks the
audiences its catalog writes (shared.domain.notification_plan). Evaluating an expression against an installation's
tags is shared/notification_hubs/tag_matching.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.tags import PLAIN_TAG, SYSTEM_TAG, tag_problem

__all__ = [
    "MAX_EXPRESSION_DEPTH",
    "MAX_EXPRESSION_TAGS",
    "MAX_OR_ONLY_EXPRESSION_TAGS",
    "And",
    "Not",
    "Or",
    "TagExpression",
    "TagRef",
    "expression_tags",
    "format_tag_expression",
    "parse_tag_expression",
]

MAX_EXPRESSION_TAGS = 6
MAX_OR_ONLY_EXPRESSION_TAGS = 20
# Not from NH: bounds recursion so that hostile input fails with a validation error, not RecursionError.
MAX_EXPRESSION_DEPTH = 32

_LOCATION = "tagExpression"


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
            match = SYSTEM_TAG.match(text, index)
            if match is None:
                raise _syntax_error(
                    f"invalid system tag at position {position}; write $InstallationId:{{id}} or $UserId:{{id}}"
                )
            yield _tag_token(match.group(0), position)
            index = match.end()
        else:
            match = PLAIN_TAG.match(text, index)
            if match is None:
                raise _syntax_error(f"unexpected character {char!r} at position {position}")
            yield _tag_token(match.group(0), position)
            index = match.end()
    yield _Token("end", "", len(text) + 1)


def _tag_token(tag: str, position: int) -> _Token:
    problem = tag_problem(tag)
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
