"""Small bar charts drawn as inline SVG on the server (no script, fits the CSP)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape


def bar_chart(title: str, rows: Sequence[tuple[str, float]], *, width: int = 420, bar_height: int = 22,
              css_class: str = "chart") -> Markup:
    """Horizontal bars with a label and a value each; an accessible title for screen readers."""
    label_w, gap = 130, 6
    height = max(1, len(rows)) * (bar_height + gap) + gap
    top = max((value for _, value in rows), default=0) or 1
    span = width - label_w - 60
    parts = [f'<svg class="{css_class}" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (name, value) in enumerate(rows):
        y = gap + i * (bar_height + gap)
        w = max(2, round(span * value / top)) if value else 0
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_height * 0.7:.0f}" text-anchor="end" '
                     f'class="chart-label">{escape(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_height}" rx="3" class="chart-bar"/>')
        parts.append(f'<text x="{label_w + w + 6}" y="{y + bar_height * 0.7:.0f}" class="chart-value">'
                     f'{escape(_num(value))}</text>')
    if not rows:
        parts.append(f'<text x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" text-anchor="middle" '
                     'class="chart-label">—</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
