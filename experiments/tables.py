"""Render the report's data tables as HTML, each column aligned the same in its heading and cells."""

from __future__ import annotations

NO_RESULTS = "<p class='missing'>No results yet.</p>"


def html_table(df, classes: str = "results", align: str | None = None) -> str:
    """`df` as an HTML table (pandas' Styler), cells escaped unless they are `markupsafe.Markup`.

    `align` gives one letter per column ("l", "r" or "c"); by default the first column is
    left-aligned and the others right-aligned. Each body cell carries its side as a class
    (`left`, `right`, `center`, as style.css expects), each heading the same alignment.
    An empty frame gives the "No results yet." paragraph.
    """
    import hashlib

    import markupsafe
    import pandas as pd

    if df.empty:
        return NO_RESULTS
    align = align or "l" + "r" * (len(df.columns) - 1)
    side = dict(zip(df.columns, ({"l": "left", "r": "right", "c": "center"}[a] for a in align)))
    body = df.map(markupsafe.escape)
    # Ids are derived from the content, so the same results render to the same bytes.
    uuid = hashlib.sha256(f"{classes}|{body.to_json()}".encode()).hexdigest()[:10]
    return (body.style.hide(axis="index").set_uuid(uuid).set_table_attributes(f'class="{classes}"')
            .set_td_classes(pd.DataFrame([list(side.values())] * len(df), columns=df.columns, index=df.index))
            .map_index(lambda col: f"text-align: {side[col]}", axis="columns")
            .format_index(escape="html", axis="columns")
            .to_html(cell_ids=False))
