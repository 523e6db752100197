"""Answer -> terminal text, JSON (and Telegram HTML, in ``telegram_render``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from trustbot.answer import Answer


def answer_dict(answer: Answer) -> dict[str, Any]:
    """The CONTRACT.md JSON object for one answer, with ``note`` (an extra field) when the
    question was not searched as asked ("(Taking this to be about Nick Broughton.)"), and
    ``stories`` (another) when it was not answered but came close in some articles."""
    out = {
        "question": answer.question,
        "answered": answer.answered,
        "answer": answer.text,
        "citations": [asdict(c) for c in answer.citations],
    }
    if answer.note:
        out["note"] = answer.note
    if answer.stories:
        out["stories"] = [asdict(s) for s in answer.stories]
    return out


def to_json(answer: Answer) -> str:
    """One line of JSON (``ask --json``)."""
    return json.dumps(answer_dict(answer), ensure_ascii=False)


def to_text(answer: Answer, *, color: bool = False, pick: str = "--article ID") -> str:
    """The answer with [n] markers, then the numbered quoted sources; a refusal names the
    stories that come closest and ``pick``, how to ask of one of them."""

    def style(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    lines = [style(answer.note, "2")] if answer.note else []
    if not answer.answered:
        lines.append(style(answer.text, "33"))
        if answer.stories:
            lines.append(f"The stories that come closest (ask of one with {pick}):")
            lines += [f"  {s.article_id}: {s.title}" for s in answer.stories]
        return "\n".join(lines)
    for c in answer.citations:
        lines.append(f"{c.text} {style(f'[{c.n}]', '36')}")
    lines += ["", style("Sources:", "1")]
    for c in answer.citations:
        where = f"{c.title} — {c.article_id}, sentence {c.sentence_index + 1}"
        if c.published:
            where += f", {c.published}"
        if c.url:
            where += f", {c.url}"
        lines.append(f"{style(f'[{c.n}]', '36')} {style(where, '2')}")
    return "\n".join(lines)
