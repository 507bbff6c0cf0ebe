"""`script`: an external library (loaded once per page) and/or an owner-written init snippet.

The snippet is the store owner's own code, like a GTM Custom HTML tag. It is never
pasted into the container's source (a syntax error there would take every tag
down); the runtime injects it as its own <script> element each time the tag fires,
so a broken snippet breaks only itself. By default it runs after `src` loaded;
`init_runs: before_load` runs it first, as vendor snippets expect (they set up the
vendor's queue, e.g. `pintrk` or `snaptr`, and then load the library, which reads it).

`init` is code: placeholders are not filled in there (the triggering event is
`tagGateway.event` while it runs). Minified code is full of `}}`; a `{{` or `}}` is
written `{{ '{{' }}` / `{{ '}}' }}` so a placeholder typo elsewhere never hides.
"""

from urllib.parse import urlsplit

from gateway.placeholders import PlaceholderError, literal_text, placeholder_errors

KEY = "script"


def hosts(compiled: dict) -> tuple[str, ...]:
    return (urlsplit(compiled["src"]).hostname or "",) if compiled.get("src") else ()


def problems(spec: dict) -> list[tuple[tuple, str]]:
    found = [(e.path, str(e)) for e in placeholder_errors({k: v for k, v in spec.items() if k != "init"})]
    if spec.get("init"):
        try:
            literal_text(spec["init"])
        except PlaceholderError as error:
            hint = " (read the event as tagGateway.event instead)" if "not filled in" in str(error) else ""
            found.append((("init",), f"{error}{hint}"))
    if spec.get("init_runs") and not (spec.get("src") and spec.get("init")):
        found.append((("init_runs",), "init_runs orders `init` and the library `src`: give both"))
    return found


def compile(spec: dict, trigger: dict) -> dict:
    compiled = {"src": spec.get("src"), "init": literal_text(spec["init"]) if spec.get("init") else None}
    if spec.get("init_runs") == "before_load":
        compiled["first"] = True
    return compiled
