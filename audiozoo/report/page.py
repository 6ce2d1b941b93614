"""``report.html``: the tables, then every cell's pictures and clips, in one self-contained file.

Built with the standard library (``html.escape`` and string joins): the page is a handful of
fixed shapes, and a template engine would be one more dependency to declare for no gain.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from audiozoo.atomic import atomic_file
from audiozoo.ladders import ladders
from audiozoo.report.cells import Cell, Media
from audiozoo.report.embed import audio_uri, image_uri
from audiozoo.report.tables import Table, fmt, is_number, number
from audiozoo.sentinels import REAL, sentinels

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; background: #f5f6f8;
       margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { margin: 0 0 4px; font-size: 26px; } h2 { margin: 36px 0 10px; font-size: 20px; }
h3 { margin: 18px 0 6px; font-size: 15px; color: #4a5263; }
.summary, .path { color: #5b6475; } .path { font: 12px ui-monospace, monospace; margin: 0 0 8px; }
nav a { display: inline-block; margin: 3px 6px 3px 0; padding: 2px 10px; border-radius: 12px; background: #fff;
        border: 1px solid #dde1e8; color: #2456b3; text-decoration: none; font-size: 13px; }
nav a.failed { color: #9a2b2b; border-color: #efc6c6; }
.scroll { overflow-x: auto; background: #fff; border: 1px solid #dde1e8; border-radius: 6px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { padding: 5px 9px; border-bottom: 1px solid #eceef2; text-align: left; white-space: nowrap; }
th { background: #eef1f6; font-weight: 600; white-space: normal; vertical-align: bottom; min-width: 56px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: 700; background: #e3f4e6; }
tr.reference td { font-style: italic; color: #555f70; background: #fafbfc; }
td.noise-like { color: #9a2b2b; font-weight: 600; } td.copies { color: #9a6a00; font-weight: 600; }
td.beats-noise { color: #1f6b35; font-weight: 600; }
td.beats-severe, td.beats-medium, td.beats-mild { color: #0f5a8a; font-weight: 600; }
tr.failed td { color: #9a2b2b; } td.error { white-space: normal; min-width: 240px; }
.notes { font-size: 13px; color: #5b6475; padding-left: 18px; }
section.cell, section.real { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 4px 20px 16px;
                              margin: 18px 0; }
section.failed { border-left: 5px solid #c94242; }
.status { font-size: 12px; padding: 2px 8px; border-radius: 10px; margin-left: 8px; vertical-align: middle;
          background: #e3f4e6; color: #246b33; }
.failed .status { background: #fbe3e3; color: #9a2b2b; }
.error-box { background: #fdf1f1; border: 1px solid #efc6c6; padding: 8px 12px; border-radius: 6px;
             font: 13px ui-monospace, monospace; white-space: pre-wrap; }
.figures { font-size: 13px; color: #3a4252; } .figures b { font-weight: 600; }
img { max-width: 100%; display: block; border: 1px solid #eceef2; border-radius: 4px; }
.clips { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 6px 16px; margin-top: 8px; }
.clips.pairs { grid-template-columns: 1fr; } .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.clip { display: flex; align-items: center; gap: 8px; font-size: 12px; color: #5b6475; }
.clip audio { width: 100%; height: 34px; } .clip span { min-width: 56px; }
"""

TITLES = {"losses": "loss curves", "samples": "generated samples",
          "reconstructions": "reconstructions (input → output)", "real": "real test clips",
          "roundtrip": "representation round trip (no model)",
          "sentinels": "sentinels from one held-out clip: " + ", ".join(
              f"{i} {label}" for i, label in enumerate((REAL, *(s.label for s in sentinels(0))))),
          "ladders": "fidelity ladders from the same clip, row by row (the clip, then mild, medium, severe); clips: "
                     + ", ".join(f"{i} {rung.label}" for i, rung in enumerate(ladders(3150)))}
PAIR_LABELS = ("input", "output")
CELL_MEDIA = ("losses", "samples", "reconstructions")
"""Shown in each cell's section; real clips and round trips are shown once, above the cells."""


def write_page(path: Path, cells: list[Cell], tables: list[Table], summary: str, notes: list[str],
               charts: dict[str, Path] | None = None) -> None:
    body = [
        "<h1>audiozoo report</h1>", f'<p class="summary">{escape(summary)}</p>', _navigation(cells),
        *(f"<h2>{escape(t.title)}</h2>{html_table(t)}" for t in tables),
        *(f'<h3>{escape(data)}</h3><img src="{image_uri(chart)}" alt="{escape(data)}: the pivot among real music, '
          f'ladder rungs and noise" title="{escape(str(chart))}">' for data, chart in (charts or {}).items()),
        '<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>",
        *_real_sections(cells),
        *(_cell_section(i, cell) for i, cell in enumerate(cells)),
    ]
    page = ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>audiozoo report</title><style>{STYLE}</style></head>\n"
            "<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n")
    with atomic_file(path) as tmp:
        tmp.write_text(page, encoding="utf-8")


def html_table(table: Table) -> str:
    """The same table as the Markdown one: best cells bold and shaded, reference rows in italics."""
    head = "".join(f"<th>{escape(c.title).replace('_', '_<wbr>')}</th>" for c in table.columns)
    rows = []
    for i, row in enumerate(table.rows):
        cells = []
        for j, (column, value) in enumerate(zip(table.columns, row.values)):
            classes = [name for name, on in (("num", is_number(number(value))), ("best", (i, j) in table.best),
                                             ("error", column.key == "error")) if on]
            if column.key == "verdict" and value:
                classes.append(str(value).replace(" ", "-"))  # noise-like, copies, beats-noise: coloured
            cells.append(f'<td class="{" ".join(classes)}">{escape(fmt(value))}</td>')
        rows.append(f'<tr class="{row.kind}">{"".join(cells)}</tr>')
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _navigation(cells: list[Cell]) -> str:
    links = "".join(f'<a href="#cell-{i}" class="{"failed" if c.failed else "done"}">{escape(_heading(c))}</a>'
                    for i, c in enumerate(cells))
    return f"<nav>{links}</nav>"


def _heading(cell: Cell) -> str:
    return f"{cell.evaluation.model} × {cell.evaluation.repr} · {cell.evaluation.data}"


def _real_sections(cells: list[Cell]) -> list[str]:
    """Once per data set the real test clips, once per data set and representation its round trip."""
    shown: dict[tuple[str, ...], str] = {}
    for cell in cells:
        for kind, key in (("real", (cell.evaluation.data,)), ("sentinels", (cell.evaluation.data, "sentinels")),
                          ("ladders", (cell.evaluation.data, "ladders")),
                          ("roundtrip", (cell.evaluation.data, cell.evaluation.repr))):
            if kind in cell.media and key not in shown:
                shown[key] = _media_block(kind, cell.media[kind])
    if not shown:
        return []
    sections = [f'<section class="real"><h3>{escape(" · ".join(key))}</h3>{block}</section>'
                for key, block in sorted(shown.items())]
    return ["<h2>real music, sentinels and representation round trips</h2>", *sections]


def _cell_section(index: int, cell: Cell) -> str:
    state = "failed" if cell.failed else "done"
    parts = [f'<section class="cell {state}" id="cell-{index}">',
             f'<h2>{escape(_heading(cell))}<span class="status">{escape(cell.evaluation.status)}</span></h2>',
             f'<p class="path">{escape(str(cell.path))}</p>']
    if cell.evaluation.error:
        parts.append(f'<div class="error-box">{escape(cell.evaluation.error)}</div>')
    if figures := _figures(cell):
        parts.append(f'<p class="figures">{figures}</p>')
    parts += [_media_block(kind, media) for kind, media in cell.media.items() if kind in CELL_MEDIA]
    return "\n".join(parts) + "</section>"


def _figures(cell: Cell) -> str:
    """The cell's metrics in one line, each reconstruction metric beside its representation's ceiling."""
    items = []
    for name, value in cell.evaluation.metrics.items():
        ceiling = f" (ceiling {fmt(cell.evaluation.ceiling[name])})" if name in cell.evaluation.ceiling else ""
        items.append(f"<b>{escape(name)}</b> {escape(fmt(value))}{escape(ceiling)}")
    return " · ".join(items)


def _media_block(kind: str, media: Media) -> str:
    parts = [f"<h3>{escape(TITLES[kind])}</h3>"]
    if media.png is not None:
        parts.append(f'<img src="{image_uri(media.png)}" alt="{escape(TITLES[kind])}"'
                     f' title="{escape(str(media.png))}">')
    if media.clips:
        pairs = any(len(clip) > 1 for clip in media.clips)
        players = [_clip(i, clip) for i, clip in enumerate(media.clips)]
        parts.append(f'<div class="clips{" pairs" if pairs else ""}">{"".join(players)}</div>')
    return "\n".join(parts)


def _clip(index: int, files: tuple[Path, ...]) -> str:
    """One player, or an input and its output side by side, to compare by ear."""
    pair = len(files) == len(PAIR_LABELS)
    labels = [f"{index} {label}" for label in PAIR_LABELS] if pair else [str(index)] * len(files)
    players = "".join(
        f'<div class="clip"><span>{escape(label)}</span>'
        f'<audio controls preload="metadata" title="{escape(str(path))}" src="{audio_uri(path)}"></audio></div>'
        for label, path in zip(labels, files))
    return f'<div class="pair">{players}</div>' if len(files) > 1 else players
