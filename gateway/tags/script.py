"""`script`: an external library (loaded once per page) and/or an owner-written init snippet.

The snippet is the store owner's own code, like a GTM Custom HTML tag. It is never
pasted into the container's source (a syntax error there would take every tag
down); the runtime injects it as its own <script> element, after `src` loaded,
each time the tag fires, so a broken snippet breaks only itself.
"""

from urllib.parse import urlsplit

KEY = "script"


def hosts(compiled: dict) -> tuple[str, ...]:
    return (urlsplit(compiled["src"]).hostname or "",) if compiled.get("src") else ()


def compile(spec: dict, trigger: dict) -> dict:
    return {"src": spec.get("src"), "init": spec.get("init")}
