"""The template sandbox: the idioms real templates use work, escapes to Python internals fail."""

from __future__ import annotations

import pytest

from directord import templating
from directord.cache import Cache
from directord.components import run

QUERY = {
    "query": {
        "node-a": {"memcache_host_ip": "10.0.0.1"},
        "node-b": {"memcache_host_ip": "10.0.0.2"},
        "node-c": {"other": 1},
    },
    "ips": {"node-a": "10.0.0.1"},
    "deployment_host": "node-a",
}

ALLOWED = [
    # list.append inside {% set %}: the memcache servers idiom
    ("{% set hosts = [] %}{% for h in query.values() | map(attribute='memcache_host_ip') | select('defined')"
     " | list %}{% set _ = hosts.append(h ~ ':11211') %}{% endfor %}{{ hosts | join(',') }}",
     "10.0.0.1:11211,10.0.0.2:11211"),
    ("{% set d = {} %}{% set _ = d.update({'a': 1}) %}{% set _ = d.setdefault('b', 2) %}{{ d | dictsort }}",
     "[('a', 1), ('b', 2)]"),
    ("{% set items = [3, 1, 2] %}{% set _ = items.extend([0]) %}{% set _ = items.pop() %}{{ items }}",
     "[3, 1, 2]"),
    ("{{ ips[deployment_host] }}", "10.0.0.1"),
    ("{% set ns = namespace(count=0) %}{% for n in query %}{% set ns.count = ns.count + 1 %}{% endfor %}"
     "{{ ns.count }}", "3"),
    ("{{ '%s-%s' | format('a', 'b') }} {{ 'x{}'.format(1) }}", "a-b x1"),
]

REFUSED = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ dict.mro() }}",
    "{{ query._private }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ joiner.__code__ }}",
    "{{ range.__self__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ 'x'.format.__self__ }}",
    "{{ '{0.__class__}'.format('') }}",
]


@pytest.mark.parametrize(("text", "expected"), ALLOWED)
def test_real_template_idioms_render(text: str, expected: str) -> None:
    assert templating.render(text, QUERY) == expected


@pytest.mark.parametrize("text", REFUSED)
def test_escapes_to_python_internals_are_refused(text: str) -> None:
    with pytest.raises(templating.TemplateError) as error:
        templating.render(text, QUERY)
    reason = str(error.value)
    assert "unsafe" in reason or "has no attribute" in reason, reason
    assert "<class" not in reason and "<function" not in reason  # nothing of the internals leaks


def test_a_template_cannot_change_the_nodes_args(cache: Cache) -> None:
    """Mutations inside a template touch only that render's copy of the cached args."""
    cache.set("args", {"hosts": ["a"]}, tag="args")
    append = "echo {% set _ = hosts.append('b') %}{{ hosts | join(',') }}"
    for _ in range(2):
        stdout, stderr, outcome, _info = run.Component().client(cache, {"command": append})
        assert (outcome, stderr) == (True, b"")
        assert stdout.strip() == b"a,b"
    assert cache.get("args") == {"hosts": ["a"]}
