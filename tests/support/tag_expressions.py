"""Hypothesis strategies for tag expressions, and reference helpers written independently of the parser."""

from __future__ import annotations

from hypothesis import strategies as st

from shared.notification_hubs.tag_expressions import MAX_EXPRESSION_DEPTH, And, Not, Or, TagExpression, TagRef

tag_names = st.one_of(
    st.from_regex(r"[A-Za-z0-9_@#.:\-]{1,12}", fullmatch=True),
    st.from_regex(r"\$(InstallationId|UserId):\{[A-Za-z0-9=_-]{1,8}\}", fullmatch=True),
)


def expressions(max_leaves: int = 6) -> st.SearchStrategy[TagExpression]:
    """Expression trees of at most ``max_leaves`` tags (plain and system), no deeper than the parser allows."""
    return st.recursive(
        tag_names.map(TagRef),
        lambda children: st.one_of(
            children.map(Not),
            st.builds(And, children, children),
            st.builds(Or, children, children),
        ),
        max_leaves=max_leaves,
    ).filter(lambda expr: depth(expr) <= MAX_EXPRESSION_DEPTH)


def depth(expr: TagExpression) -> int:
    """How deeply operators nest above the deepest tag."""
    if isinstance(expr, TagRef):
        return 0
    if isinstance(expr, Not):
        return 1 + depth(expr.operand)
    return 1 + max(depth(expr.left), depth(expr.right))


def evaluate(expr: TagExpression, tags: set[str]) -> bool:
    """Reference semantics, written independently of the module under test."""
    if isinstance(expr, TagRef):
        return expr.name in tags
    if isinstance(expr, Not):
        return not evaluate(expr.operand, tags)
    if isinstance(expr, And):
        return evaluate(expr.left, tags) and evaluate(expr.right, tags)
    return evaluate(expr.left, tags) or evaluate(expr.right, tags)


def leaves(expr: TagExpression) -> list[str]:
    """Every tag of the tree, left to right, repeats included."""
    if isinstance(expr, TagRef):
        return [expr.name]
    if isinstance(expr, Not):
        return leaves(expr.operand)
    return leaves(expr.left) + leaves(expr.right)
