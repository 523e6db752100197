"""trustbot: answers questions about news articles by quoting the sentences that answer them."""

from __future__ import annotations

__version__ = "0.1.0"
