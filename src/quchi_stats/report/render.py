"""The report's HTML templates (``report/templates/``), rendered by Jinja2.

Python prepares plain context data (numbers already formatted for readers, tables as rows of
text); the templates hold the markup and the wording. Every value is escaped (``autoescape``),
so a town, village or note read from the data can never become markup; an undefined name is an
error (``StrictUndefined``), not an empty string. Only content this package generates itself is
marked safe, each time through one of the functions below: a figure's base64 PNG
(:func:`png_data`), and a page part rendered by these templates (:func:`render`).

>>> environment().from_string("<p>{{ name }}</p>").render(name="<script>{{ 1 + 1 }}</script>")
'<p>&lt;script&gt;{{ 1 + 1 }}&lt;/script&gt;</p>'
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from functools import cache

import jinja2
from markupsafe import Markup

__all__ = ["PROSE", "TEMPLATES", "Table", "environment", "png_data", "prose", "render",
           "text_environment"]

TEMPLATES = "templates"
"""The folder of ``quchi_stats.report`` that holds the templates (package data)."""

_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


@cache
def environment() -> jinja2.Environment:
    """The templates' environment (built once; it holds no data): autoescape on, undefined names
    raise, block tags leave no blank lines."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("quchi_stats.report", TEMPLATES),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)


@cache
def text_environment() -> jinja2.Environment:
    """The environment of the plain-text templates (``*.txt``): the report's sentences, which the
    docx, the workbook and the HTML page all use. No markup is made there, so nothing is escaped
    (a sentence is text, escaped by the HTML template it is placed in, as any other value); an
    undefined name raises."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("quchi_stats.report", TEMPLATES),
        autoescape=False, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


PROSE = "prose.txt"
"""The report's sentences (``templates/prose.txt``): one macro per sentence or paragraph."""


def prose(name: str, /, **context: object) -> str:
    """The sentence (or paragraph) ``name`` of :data:`PROSE` with ``context``, as plain text: the
    macro's lines joined without their line breaks and indentation, so that a long sentence can be
    wrapped in the template (Chinese text has no spaces between words).

    >>> prose("no_flags_docx")
    '未发现符合第七条所列情形、且有统计证据支持的问题。'
    """
    macro = getattr(text_environment().get_template(PROSE).module, name)
    text = str(macro(**context))
    return "".join(line.strip() for line in text.splitlines())


def render(name: str, /, **context: object) -> Markup:
    """Template ``name`` rendered with ``context`` (safe to place in another template: every
    value in it was escaped)."""
    return Markup(environment().get_template(name).render(**context))


def png_data(b64: str) -> Markup:
    """A figure's base64 PNG, checked to be base64 and nothing else, for a ``data:`` URL."""
    if not _BASE64.fullmatch(b64):
        raise ValueError("The 'b64' parameter of png_data must be base64 text. Got other characters.")
    try:
        base64.b64decode(b64, validate=True)
    except binascii.Error as e:
        raise ValueError(f"The 'b64' parameter of png_data must be base64 text. Got {e}.") from None
    return Markup(b64)


@dataclass(frozen=True)
class Table:
    """A table as the page shows it: the header and the rows as text; ``nowrap`` names the cells
    (the values) and headers kept on one line (towns)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    nowrap: frozenset[str] = frozenset()
