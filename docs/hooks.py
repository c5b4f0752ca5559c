"""MkDocs hook: the reference pages' tables are generated from the code (safemix.cli.reference)."""

import re

MARK = re.compile(r"<!-- safemix:(\w+) -->")


def on_page_markdown(markdown, page, config, files, **kwargs):
    if "<!-- safemix:" not in markdown:
        return markdown
    from safemix.cli.reference import SECTIONS

    return MARK.sub(lambda m: SECTIONS[m.group(1)](), markdown)
