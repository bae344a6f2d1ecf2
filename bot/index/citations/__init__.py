"""Academic references cited in a fact card's text, and an index from references to cards.

Pure module: no Discord, no I/O.  Every public function accepts any string (hostile,
huge, empty, emoji, RTL, regex metacharacters) and returns empty results rather than
raising.

Forms recognised in card text
-----------------------------
Author-year, inside parentheses or brackets (several separated by ``;``, with optional
lead-ins such as ``e.g.,``, ``see``, ``cf.``):

* ``(Clarkson, 1990)``, ``(Horvath & Symonds, 1991)``, ``(Horvath and Symonds, 1991)``
* ``(Salvio, Beutler, Wood, & Engle, 1992)``, ``(Martin, Garske & Davis 2000: 438)``
* ``(Bordin, 1979, 1994)`` and ``(Simpson 2004, 2001)`` -> one reference per year
* ``(Barber et al. 2001)``, ``(Joe et. al. 2001)``, ``(Bartle-Haring et al., 2007)``
* ``(Drug Strategies 2003)`` (an organisation: several capitalised words are one name)

Narrative author-year: ``Rogers (1951)``, ``Horvath and Symonds (1991)``,
``Smith et al. (2000)``, ``Bordin's (1979, 1994)``.

Numbered: ``(7, 8)``, ``[7]``, ``(12-15)``, ``Bordin (5)``, and superscript numbers
flattened after punctuation: ``alliance.10,11``, ``partnership.12-15``, ``youth.13``.
Ranges expand (``12-15`` -> 12, 13, 14, 15; ranges longer than 50 keep their two ends).
Numbers are 1 to 3 digits; four-digit years and page locators (``2000: 438``) are never
numbered references.

``Reference.written``
---------------------
* author-year: the single reference as written, without the enclosing parentheses or a
  lead-in (``Horvath & Symonds, 1991``; ``Martin, Garske & Davis 2000: 438``;
  narrative ``Rogers (1951)``).  In a multi-year group each year gets the authors as
  written plus that year: ``Bordin, 1979, 1994`` -> ``Bordin, 1979`` and ``Bordin, 1994``;
  ``Bordin (1979, 1994)`` -> ``Bordin (1979)`` and ``Bordin (1994)``.  A page locator is
  kept on the last year of the group.
* numbered: the whole citation group as written, shared by every number in it:
  ``(7, 8)`` for both 7 and 8, ``Bordin (5)``, ``10,11`` (the glued superscript list
  without the punctuation before it), ``12-15`` for each of 12..15.
* opaque (an explicit citation string that does not parse): the string itself.
"""

from __future__ import annotations

from bot.index.citations.cache import EXTRACTION_VERSION
from bot.index.citations.extraction import card_references, extract
from bot.index.citations.index import CitationIndex
from bot.index.citations.query import parse_reference
from bot.index.citations.records import CitationHit, Reference, ReferenceQuery
from bot.util.text import fold

__all__ = [
    "EXTRACTION_VERSION",
    "CitationHit",
    "CitationIndex",
    "Reference",
    "ReferenceQuery",
    "card_references",
    "extract",
    "fold",
    "parse_reference",
]
