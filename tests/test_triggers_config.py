"""What `gateway validate` says about triggers, conditions, variables and firing rules, and what ships.

Every mistake is named with file, line and key, and says what is allowed; the container carries the
code of a trigger type or rule only when a tag uses it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.container import build_container, runtime_config
from gateway.errors import ConfigError
from gateway.placeholders import literal_text
from gateway.triggers import runtime_files

SITE = """
site:
  name: T
  allowed_origins: ["https://shop.example"]
  policy_version: 1
  privacy_policy_url: /privacy
categories:
  marketing: {label: Marketing, description: Ads.}
"""


def problems(tmp_path: Path, tags: str, extra: str = "") -> list[str]:
    (tmp_path / "site.yaml").write_text(SITE + textwrap.dedent(extra))
    (tmp_path / "tags.yaml").write_text(textwrap.dedent(tags))
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    return [str(p).replace(str(tmp_path) + "/", "") for p in raised.value.problems]


def loaded(tmp_path: Path, tags: str, extra: str = ""):
    (tmp_path / "site.yaml").write_text(SITE + textwrap.dedent(extra))
    (tmp_path / "tags.yaml").write_text(textwrap.dedent(tags))
    return load_config(tmp_path)


def test_conditions_need_one_operator_and_a_regular_expression_that_compiles(tmp_path) -> None:
    found = problems(tmp_path, """
        tags:
          - id: a
            category: marketing
            trigger:
              type: page_view
              conditions:
                - {value: "{{ page.path }}", equals: /a, contains: b}
                - {value: "{{ page.path }}", matches: "(unclosed"}
                - {equals: /x}
              unless:
                - {all: [{value: "{{ pge.path }}", equals: x}]}
            image: {url: "https://px.example/p.gif"}
        """)
    assert found == [
        "tags.yaml:8: tags[0].trigger.conditions[0]: give exactly one operator: equals, contains, starts_with, ends_with, "
        "matches, in, gt, gte, lt, lte (found equals, contains)",
        "tags.yaml:9: tags[0].trigger.conditions[1].matches: '(unclosed' is not a regular expression: "
        "missing ), unterminated subpattern at position 0",
        "tags.yaml:10: tags[0].trigger.conditions[2]: a condition needs `value` (e.g. \"{{ page.path }}\") and one operator: "
        "equals, contains, starts_with, ends_with, matches, in, gt, gte, lt, lte",
        "tags.yaml:12: tags[0].trigger.unless[0].all[0].value: placeholder '{{ pge.path }}' must start with one of: "
        "event., dataLayer., page., url., cookie., var.",
    ]


def test_trigger_keys_must_fit_the_type(tmp_path) -> None:
    found = problems(tmp_path, """
        tags:
          - id: a
            category: marketing
            trigger: {type: scroll_depth, thresholds: [50], selector: .x, interval_ms: 500}
            image: {url: "https://px.example/p.gif"}
          - id: b
            category: marketing
            trigger: {type: click, check_validation: true}
            image: {url: "https://px.example/p.gif"}
          - id: c
            category: marketing
            trigger: {type: form_submit, check_validation: yes please}
            image: {url: "https://px.example/p.gif"}
        """)
    assert found == [
        "tags.yaml:5: tags[0].trigger.interval_ms: 'interval_ms' does not apply to trigger type 'scroll_depth'; "
        "it belongs to type 'timer'",
        "tags.yaml:5: tags[0].trigger.selector: 'selector' does not apply to trigger type 'scroll_depth'; "
        "it belongs to type 'click' or 'form_submit' or 'element_visible'",
        "tags.yaml:9: tags[1].trigger.check_validation: 'check_validation' does not apply to trigger type 'click'; "
        "it belongs to type 'form_submit'",
        "tags.yaml:13: tags[2].trigger.check_validation: expected true or false, got text ('yes please')",
    ]


def test_variables_setup_tags_and_keys_are_checked_across_the_config(tmp_path) -> None:
    found = problems(tmp_path, """
        tags:
          - id: a
            category: marketing
            trigger: {type: page_view}
            setup: bse
            image: {url: "https://px.example/p.gif", params: {c: "{{ var.curency }}"}}
          - id: base
            category: marketing
            trigger: {type: page_view}
            setup: a
            image: {url: "https://px.example/b.gif"}
          - id: keyed
            category: marketing
            trigger: {type: page_view}
            setup: broken
            fire: {once_per_key: "order-1"}
            image: {url: "https://px.example/p.gif"}
          - id: broken
            category: nope
            trigger: {type: page_view}
            image: {url: "https://px.example/p.gif"}
        """, """
        variables:
          currency: {constant: EUR}
          one: {value: "{{ var.two }}"}
          two: {value: "x{{ var.one }}"}
          both: {constant: 1, value: "{{ page.path }}"}
          country: {lookup: "{{ url.query.c }}"}
        """)
    assert found == [
        "site.yaml:12: variables.one: variables use each other in a circle: one -> two -> one",
        "site.yaml:14: variables.both: give a variable exactly one of constant, value, lookup (found constant, value)",
        "site.yaml:15: variables.country: `lookup` and `table` go together: lookup: \"{{ url.query.country }}\" "
        "with table: {de: Germany}",
        "tags.yaml:3: tags[0]: {{ var.curency }} is not a declared variable (did you mean 'currency'?); "
        "declared: currency, one, two",
        "tags.yaml:6: tags[0].setup: no tag has the id 'bse' (did you mean 'base'?)",
        "tags.yaml:11: tags[1].setup: 'a' cannot be a setup tag here: a setup tag fires first and has no setup of its own",
        "tags.yaml:17: tags[2].fire.once_per_key: the key must come from the page, e.g. "
        "\"{{ event.ecommerce.transaction_id }}\"; a fixed text would make the tag fire once ever",
        "tags.yaml:20: tags[3].category: category 'nope' is not declared; declared: necessary, marketing",
    ]


def test_a_literal_brace_pair_in_a_snippet_has_an_escape_and_the_message_names_it(tmp_path) -> None:
    assert literal_text("if(a){b()}") == "if(a){b()}"
    assert literal_text("x={a:{b:1{{ '}}' }};") == "x={a:{b:1}};"
    found = problems(tmp_path, """
        tags:
          - id: a
            category: marketing
            trigger: {type: page_view}
            image: {url: "https://px.example/p.gif", params: {v: "a}}b"}}
        """)
    assert found == ["tags.yaml:6: tags[0].image.params.v: unbalanced braces in 'a}}b'; placeholders look like "
                     "{{ event.value }}; write a literal {{ as {{ '{{' }} and a literal }} as {{ '}}' }}"]


def test_only_the_trigger_types_and_rules_in_use_are_shipped(tmp_path) -> None:
    config = loaded(tmp_path, """
        tags:
          - id: a
            category: marketing
            trigger: {type: form_submit, conditions: [{value: "{{ cookie.ab }}", equals: b}]}
            fire: once_per_session
            image: {url: "https://px.example/p.gif", params: {v: "{{ var.v }}"}}
          - id: b
            category: marketing
            trigger: {type: event, event: x}
            enabled: false
            image: {url: "https://px.example/p.gif", params: {u: "{{ url.path }}"}}
        """, """
        variables:
          v: {constant: 1}
        """)
    runtime = runtime_config(config, "")
    assert runtime_files(runtime["tags"], runtime.get("vars")) == [
        "triggers/form_submit.js", "values/cookie.js", "values/var.js", "rules/conditions.js", "rules/firing.js"]
    body = build_container(config).body.decode()
    assert "TRIGGERS.form_submit" not in body  # names are mangled; the behaviour is what ships
    example = load_config(Path(__file__).resolve().parent.parent / "tag_configs")
    shipped = runtime_config(example, "")
    assert runtime_files(shipped["tags"], shipped.get("vars")) == [
        "triggers/click.js", "triggers/form_submit.js", "triggers/history_change.js"]
    checked = runtime_config(loaded(tmp_path, """
        tags:
          - {id: a, category: marketing, trigger: {type: form_submit, check_validation: true},
             image: {url: "https://px.example/p.gif"}}
        """), "")
    assert runtime_files(checked["tags"]) == ["triggers/form_submit.js", "triggers/form_submit_validation.js"]


def test_a_script_snippet_takes_no_placeholders_and_says_how_to_write_braces(tmp_path) -> None:
    found = problems(tmp_path, """
        tags:
          - id: a
            category: marketing
            trigger: {type: page_view}
            script: {src: "https://lib.example/a.js", init: "track({{ event.value }})"}
          - id: b
            category: marketing
            trigger: {type: page_view}
            script: {src: "https://lib.example/b.js", init: "var o = {a: {b: 1}};"}
          - id: c
            category: marketing
            trigger: {type: page_view}
            script: {init: "go()", init_runs: before_load}
        """)
    assert found == [
        "tags.yaml:6: tags[0].script.init: placeholders are not filled in here ('track({{ event.value }})'...); "
        "write a literal {{ as {{ '{{' }} and a literal }} as {{ '}}' }} (read the event as tagGateway.event instead)",
        "tags.yaml:10: tags[1].script.init: unbalanced braces in 'var o = {a: {b: 1}};'; placeholders look like "
        "{{ event.value }}; write a literal {{ as {{ '{{' }} and a literal }} as {{ '}}' }}",
        "tags.yaml:14: tags[2].script.init_runs: init_runs orders `init` and the library `src`: give both",
    ]


def test_placeholders_a_trigger_can_never_fill_are_warned_about_not_refused(tmp_path) -> None:
    config = loaded(tmp_path, """
        tags:
          - id: a
            category: marketing
            trigger: {type: page_view}
            image: {url: "https://px.example/p.gif", params: {v: "{{ event.ecommerce.value }}", ok: "{{ dataLayer.ecommerce.value }}"}}
          - id: b
            category: marketing
            trigger: {type: event, event: purchase}
            image:
              url: https://px.example/p.gif
              params: {v: "{{ event.ecomerce.value }}", t: "{{ event.ecommerce.transacton_id }}", ok: "{{ event.custom.x }}"}
          - id: c
            category: marketing
            trigger: {type: click, selector: .x, conditions: [{value: "{{ event.element.sku }}", equals: a}]}
            image: {url: "https://px.example/p.gif", params: {sku: "{{ event.element.data.sku }}"}}
        """)
    assert [str(w).replace(str(tmp_path) + "/", "") for w in config.warnings] == [
        "tags.yaml:6: tags[0].image.params.v: warning: {{ event.ecommerce.value }} never has a value on a page_view "
        "trigger (its event has nothing); use dataLayer., page. or url. instead, or another trigger type",
        "tags.yaml:12: tags[1].image.params.t: warning: {{ event.ecommerce.transacton_id }}: GA4 e-commerce has no "
        "'transacton_id' (did you mean event.ecommerce.transaction_id?)",
        "tags.yaml:12: tags[1].image.params.v: warning: {{ event.ecomerce.value }} is never filled by a GA4 e-commerce "
        "push (did you mean event.ecommerce?)",
        "tags.yaml:15: tags[2].trigger.conditions[0].value: warning: {{ event.element.sku }} never has a value: "
        "event.element has classes, data, href, id, text (data.<name> for data-* attributes)",
    ]
    example = load_config(Path(__file__).resolve().parent.parent / "tag_configs")
    assert example.warnings == ()


def test_validate_prints_warnings_and_still_succeeds(tmp_path) -> None:
    import subprocess
    import sys

    (tmp_path / "site.yaml").write_text(SITE)
    (tmp_path / "tags.yaml").write_text(textwrap.dedent("""
        tags:
          - id: a
            category: marketing
            trigger: {type: timer, interval_ms: 1000}
            image: {url: "https://px.example/p.gif", params: {n: "{{ event.cont }}"}}
        """))
    done = subprocess.run([sys.executable, "-m", "gateway", "validate", str(tmp_path)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert done.returncode == 0 and "OK (2 files, 1 tags" in done.stdout
    assert done.stderr.strip().endswith("tags.yaml:6: tags[0].image.params.n: warning: {{ event.cont }} never has a "
                                        "value on a timer trigger (its event has event.count, event.interval_ms); use "
                                        "dataLayer., page. or url. instead, or another trigger type")
