"""Recognise TAO's stock code by the shape of its syntax tree.

A fingerprint hashes the function's AST with docstrings removed, so a change in
comments, quoting or line wrapping keeps the fingerprint while any change in what
the code does gives a new one. That is the line between "the code we know how to
fix" and "code we have never seen", which is what a patch must not guess about.
"""
import ast
import hashlib
import inspect
import textwrap


def fingerprint_source(source: str) -> str:
    """Return a short, stable hash of a function's source text."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    digest = hashlib.sha256(ast.dump(tree, include_attributes=False).encode())
    return digest.hexdigest()[:16]


def fingerprint(function) -> str:
    """Fingerprint a live function (unwrapping any wrapt proxy first)."""
    function = getattr(function, "__wrapped__", function)
    return fingerprint_source(inspect.getsource(function))
