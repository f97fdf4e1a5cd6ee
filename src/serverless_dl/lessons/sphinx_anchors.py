"""A Sphinx extension for the course site: HTML anchors (`<a id="x"></a>`) are link targets.

The glossary and the troubleshooting page mark their entries with HTML anchors,
which GitHub and JupyterLab honour. MyST only knows heading slugs, so a link
`[alias](#alias)` or `glossary.md#alias` would be reported as broken. This
transform adds each anchor's id to the page's slugs, just before MyST resolves
`#id` links; the browser then finds the anchor in the page's own HTML.

Sphinx imports it from `src/` in `.venvs/site` (serverless_dl.lessons.site's `_config.yml`),
so it must import nothing but docutils and Sphinx.
"""

from __future__ import annotations

import re

from docutils import nodes
from docutils.transforms import Transform

# MyST splits inline `<a id="x"></a>` into an opening and a closing raw node: match the opening.
HTML_ANCHOR = re.compile(r'<a\s+(?:id|name)="([^"]+)"\s*>')
# MyST's ResolveAnchorIds runs at 879; this must run before it.
PRIORITY = 878


class HtmlAnchorSlugs(Transform):
    """Add the ids of a page's HTML anchors to the page's MyST heading slugs."""

    default_priority = PRIORITY

    def apply(self, **kwargs) -> None:
        """Record every `<a id="...">` of raw HTML blocks as a slug of this page."""
        slugs = getattr(self.document, "myst_slugs", None)
        if slugs is None:
            slugs = self.document.myst_slugs = {}
        for raw in self.document.findall(nodes.raw):
            if raw.get("format") == "html":
                for anchor in HTML_ANCHOR.findall(raw.astext()):
                    slugs.setdefault(anchor, (raw.line or 0, anchor, ""))
        env = getattr(self.document.settings, "env", None)
        if env is not None and slugs:
            env.metadata[env.docname]["myst_slugs"] = slugs


def setup(app) -> dict:
    """Register the transform with Sphinx."""
    app.add_transform(HtmlAnchorSlugs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
