"""Write the Lee background corpus (300 short ABC news reports) as corpus articles.

Usage (measurement only; nothing in trustbot or its tests needs this)::

    .venv/bin/pip download gensim==4.4.0 --no-deps -d /tmp/q/wheel
    .venv/bin/python scripts/news_articles.py /tmp/q/wheel/gensim-4.4.0-*.whl /tmp/q/leearts

The corpus is shipped inside gensim's wheel as test data (``gensim/test/test_data/
lee_background.cor``, one report per line, from Lee, Pincombe and Welsh, 2005). It gives the
bundled article news-like neighbours: a newsroom's corpus is many short reports, not the long
encyclopedia articles of xquad-r (command G in docs/quality.md). Each report becomes
``lee-NNN.txt``; its title is its first eight words, as the reports have no headlines.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

MEMBER = "gensim/test/test_data/lee_background.cor"
TITLE_WORDS = 8


def main(argv: list[str]) -> None:
    wheel, out = Path(argv[0]), Path(argv[1])
    with zipfile.ZipFile(wheel) as z:
        lines = z.read(MEMBER).decode("utf-8", errors="replace").splitlines()
    out.mkdir(parents=True, exist_ok=True)
    reports = [line.strip() for line in lines if line.strip()]
    for i, report in enumerate(reports):
        title = " ".join(report.split()[:TITLE_WORDS]).rstrip(",.;:")
        (out / f"lee-{i:03d}.txt").write_text(
            f"---\ntitle: {title}\nsource: Lee background corpus (ABC news), gensim test data\n"
            f"---\n\n{report}\n",
            encoding="utf-8",
        )
    print(f"{len(reports)} reports written to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
