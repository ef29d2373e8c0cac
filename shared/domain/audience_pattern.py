"""The audience expressions the API admits, as one regular expression: a documented sublanguage of Notification
Hubs' tag expressions (NH-REST §5) over the tag families an audience may name.

Either up to 20 tags joined only by ``||``, or up to 6 tags joined by ``&&`` and ``||``, each tag or parenthesised
group optionally negated with ``!`` written against it, with one level of parentheses (a group holds two or more
tags, none of them parenthesised). ``&&`` and ``||`` may have one space on either side; nothing else has spaces.
The tags: ``topic:``, ``lang:`` and ``platform:`` with their values, ``dept:``/``user:`` with the characters the
server writes into such tags as they are, ``depth:``/``userh:`` with the hash the server writes otherwise.

Every string the pattern admits parses within NH's limits (shared.domain.audience then checks the same families);
the API checks the pattern first, so its refusal is the first thing a caller reads.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Final

from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.records import Platform
from shared.domain.tag_policy import HASH_PATTERN, PLAIN_ID_PATTERN, PLAIN_NAME_PATTERN
from shared.domain.topics import TOPICS
from shared.notification_hubs.tag_expressions import MAX_EXPRESSION_TAGS, MAX_OR_ONLY_EXPRESSION_TAGS

__all__ = ["AUDIENCE_RULE", "audience_pattern"]

AUDIENCE_RULE: Final = (
    f"up to {MAX_OR_ONLY_EXPRESSION_TAGS} tags joined by '||', or up to {MAX_EXPRESSION_TAGS} tags with '&&', '||', "
    "'!' and one level of parentheses; tags topic:, lang:, platform:, dept:, depth:, user:, userh:"
)
_OR = " ?\\|\\| ?"
_OPERATOR = "(?: ?&& ?| ?\\|\\| ?)"


def _tag() -> str:
    def values(options: object) -> str:
        return "(?:" + "|".join(re.escape(str(option)) for option in options) + ")"  # type: ignore[attr-defined]

    families = [
        f"topic:{values(TOPICS)}",
        f"lang:{values(SUPPORTED_LANGUAGES)}",
        f"platform:{values(platform.value for platform in Platform)}",
        f"dept:{PLAIN_NAME_PATTERN}",
        f"depth:{HASH_PATTERN}",
        f"user:{PLAIN_ID_PATTERN}",
        f"userh:{HASH_PATTERN}",
    ]
    return "(?:" + "|".join(families) + ")"


@cache
def audience_pattern() -> str:
    """The regular expression (anchored; ECMA-262 and Python alike) for exactly the audiences the API accepts."""
    tag = _tag()
    only_or = f"{tag}(?:{_OR}{tag}){{0,{MAX_OR_ONLY_EXPRESSION_TAGS - 1}}}"
    return f"^(?:{only_or}|{_mixed(tag, MAX_EXPRESSION_TAGS)})$"


def _mixed(tag: str, limit: int) -> str:
    """Operands (``!``-able tags, or ``!``-able groups of 2+ tags) joined by ``&&``/``||``, at most ``limit`` tags."""
    atom = f"!?{tag}"

    @cache
    def upto(n: int) -> str:
        # The operand first (a tag, or a group of k tags), then optionally an operator and what fits after it.
        choices = [f"{atom}(?:{_OPERATOR}{upto(n - 1)})?" if n > 1 else atom]
        for k in range(2, n + 1):
            group = f"!?\\({atom}(?:{_OPERATOR}{atom}){{{k - 1}}}\\)"
            choices.append(f"{group}(?:{_OPERATOR}{upto(n - k)})?" if n > k else group)
        return "(?:" + "|".join(choices) + ")"

    return upto(limit)
