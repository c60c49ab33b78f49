"""Configuration: the embedded default and minimal files load; every problem of a bad one is reported at once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from triage.cli import main
from triage.config import TriageConfig, default_config_text, load_config, parse_config
from triage.errors import ConfigError

MINIMAL: dict[str, Any] = {
    "clusters": {"local": {"address": "127.0.0.1:8000"}},
    "routes": {"only": {"chain": [{"cluster": "local", "model": "m"}]}},
    "default_route": "only",
    "tiers": {"default": {"routes": ["only"]}},
    "policy": {"ladder": [{"route": "only"}]},
}

VALID: dict[str, Any] = {
    "clusters": {
        "small": {"address": "127.0.0.1:18001", "provider": "vllm"},
        "big": {"address": "api.example.com:443", "tls": True, "protocol": "http2"},
    },
    "routes": {
        "economy": {"chain": [{"cluster": "small", "model": "s"}, {"cluster": "big", "model": "b-mini"}]},
        "premium": {"chain": [{"cluster": "big", "model": "b"}], "price": {"input_per_mtok": 2, "output_per_mtok": 8}},
    },
    "default_route": "economy",
    "tier_source": {"metadata": {"namespace": "envoy.filters.http.jwt_authn", "path": ["jwt_payload", "tier"]}},
    "default_tier": "free",
    "tiers": {"free": {"routes": ["economy"]}, "pro": {"routes": ["economy", "premium"], "timeout_ms": 60000}},
    "policy": {"ladder": [{"route": "economy"}, {"route": "premium", "min_score": 0.5}]},
    "kill_switch": {"route": "economy", "tiers": ["free"]},
}


def _with(base: dict[str, Any], *edits: tuple[str, Any]) -> dict[str, Any]:
    """``base`` with each dotted path set (or deleted when the value is ``...``)."""
    out = copy.deepcopy(base)
    for path, value in edits:
        *parents, last = path.split(".")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        if value is ...:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def _problems(data: Any) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


# -- good configurations --------------------------------------------------------------------------


def test_load_config_embedded_default_is_valid() -> None:
    cfg = load_config()
    assert isinstance(cfg, TriageConfig)
    assert cfg.default_route in cfg.routes
    assert cfg.default_tier in cfg.tiers
    for route in cfg.routes.values():
        assert all(step.cluster in cfg.clusters for step in route.chain)
    assert cfg.tier_source.metadata is not None
    assert cfg.tier_source.header is None


def test_load_config_from_a_file_equals_the_embedded_default(tmp_path: Path) -> None:
    path = tmp_path / "triage.yaml"
    path.write_text(default_config_text(), encoding="utf-8")
    assert load_config(path) == load_config()


def test_parse_config_minimal_fills_defaults() -> None:
    cfg = parse_config(MINIMAL)
    assert cfg.version == 1
    assert cfg.default_tier == "default"
    assert cfg.tier(None) == ("default", cfg.tiers["default"])
    assert cfg.kill_switch is None
    assert cfg.policy.deadline_ms > 0
    assert cfg.policy.uncertainty.escalate is False
    assert cfg.server.listen == ["127.0.0.1:50051"]
    assert cfg.envoy.jwt is None
    assert cfg.envoy.tracing is None
    assert cfg.store.capture is False  # content capture is an explicit switch
    assert load_config().store.capture is False


def test_parse_config_valid_structure() -> None:
    cfg = parse_config(VALID)
    big = cfg.clusters["big"]
    assert (big.host, big.port, big.tls, big.protocol) == ("api.example.com", 443, True, "http2")
    assert cfg.routes["premium"].price_of("big").input_per_mtok == 2
    assert cfg.tier("pro")[0] == "pro"
    assert cfg.tier("nonexistent")[0] == "free"


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1:1", "localhost:8080", "api.openai.com:443", "[::1]:50051", "unix:/run/triage/triage.sock"],
    ids=["ipv4", "hostname", "dns", "ipv6", "unix-socket"],
)
def test_parse_config_accepts_addresses(address: str) -> None:
    cfg = parse_config(_with(MINIMAL, ("clusters.local.address", address), ("server.listen", [address])))
    assert cfg.clusters["local"].address == address


def test_route_price_of_uses_step_price_then_route_price() -> None:
    data = _with(
        VALID,
        ("routes.economy.price", {"input_per_mtok": 1, "output_per_mtok": 1}),
        (
            "routes.economy.chain",
            [{"cluster": "small", "model": "s", "price": {"input_per_mtok": 0.5}}, {"cluster": "big", "model": "b"}],
        ),
    )
    route = parse_config(data).routes["economy"]
    assert route.price_of("small").input_per_mtok == 0.5
    assert route.price_of("big").input_per_mtok == 1
    assert route.price_of(None).input_per_mtok == 0.5
    assert route.price.cost(1_000_000, 2_000_000) == 3.0


# -- bad configurations: one problem each, named by its dotted path ------------------------------

BAD_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-top-level-key", _with(MINIMAL, ("colour", "blue")), "colour: unknown key"),
    ("unknown-nested-key", _with(MINIMAL, ("routes.only.weight", 3)), "routes.only.weight: unknown key"),
    ("unknown-cluster-key", _with(MINIMAL, ("clusters.local.retries", 3)), "clusters.local.retries: unknown key"),
    ("missing-clusters", _with(MINIMAL, ("clusters", ...)), "clusters:"),
    ("missing-policy", _with(MINIMAL, ("policy", ...)), "policy:"),
    ("bad-address-no-port", _with(MINIMAL, ("clusters.local.address", "localhost")), "clusters.local.address:"),
    ("bad-address-url", _with(MINIMAL, ("clusters.local.address", "http://x:80")), "clusters.local.address:"),
    (
        "bad-address-relative-unix",
        _with(MINIMAL, ("clusters.local.address", "unix:run.sock")),
        "clusters.local.address:",
    ),
    ("bad-listen-address", _with(MINIMAL, ("server.listen", ["0.0.0.0"])), "server.listen"),
    ("bad-envoy-address", _with(MINIMAL, ("envoy.extproc", "somewhere")), "envoy.extproc:"),
    ("bad-tracing-collector", _with(MINIMAL, ("envoy.tracing", {"collector": "otel"})), "envoy.tracing.collector:"),
    ("bad-protocol", _with(MINIMAL, ("clusters.local.protocol", "http3")), "clusters.local.protocol:"),
    ("bad-version", _with(MINIMAL, ("version", 2)), "version:"),
    ("empty-chain", _with(MINIMAL, ("routes.only.chain", [])), "routes.only.chain:"),
    (
        "negative-price",
        _with(MINIMAL, ("routes.only.price", {"input_per_mtok": -1})),
        "routes.only.price.input_per_mtok:",
    ),
    (
        "bad-route-name",
        _with(MINIMAL, ("routes.only.chain", [{"cluster": "-x", "model": "m"}])),
        "routes.only.chain.0.cluster:",
    ),
    ("zero-timeout", _with(MINIMAL, ("tiers.default.timeout_ms", 0)), "tiers.default.timeout_ms:"),
    ("zero-cost-cap", _with(MINIMAL, ("tiers.default.max_cost_usd", 0)), "tiers.default.max_cost_usd:"),
    (
        "score-above-one",
        _with(MINIMAL, ("policy.ladder", [{"route": "only", "min_score": 1.5}])),
        "policy.ladder.0.min_score:",
    ),
    ("margin-too-wide", _with(MINIMAL, ("policy.uncertainty", {"margin": 0.9})), "policy.uncertainty.margin:"),
    ("empty-tier-routes", _with(MINIMAL, ("tiers.default.routes", [])), "tiers.default.routes:"),
    (
        "uppercase-tier-header",
        _with(MINIMAL, ("tier_source", {"header": {"name": "X-Tier"}})),
        "tier_source.header.name:",
    ),
    (
        "unknown-cluster-in-chain",
        _with(MINIMAL, ("routes.only.chain", [{"cluster": "nowhere", "model": "m"}])),
        "routes.only.chain.0.cluster: unknown cluster 'nowhere'",
    ),
    (
        "duplicate-cluster-in-chain",
        _with(MINIMAL, ("routes.only.chain", [{"cluster": "local", "model": "a"}, {"cluster": "local", "model": "b"}])),
        "routes.only.chain: a cluster appears twice",
    ),
    ("unknown-default-route", _with(MINIMAL, ("default_route", "other")), "default_route: unknown route 'other'"),
    (
        "unknown-route-in-tier",
        _with(MINIMAL, ("tiers.default.routes", ["only", "ghost"])),
        "tiers.default.routes.1: unknown route 'ghost'",
    ),
    (
        "unknown-route-in-ladder",
        _with(MINIMAL, ("policy.ladder", [{"route": "only"}, {"route": "ghost", "min_score": 0.5}])),
        "policy.ladder.1.route: unknown route 'ghost'",
    ),
    ("unknown-default-tier", _with(MINIMAL, ("default_tier", "gold")), "default_tier: 'gold' is not defined"),
    (
        "unknown-kill-switch-route",
        _with(MINIMAL, ("kill_switch", {"route": "ghost"})),
        "kill_switch.route: unknown route 'ghost'",
    ),
    (
        "unknown-kill-switch-tier",
        _with(MINIMAL, ("kill_switch", {"route": "only", "tiers": ["gold"]})),
        "kill_switch.tiers.0: unknown tier 'gold'",
    ),
    (
        "first-step-not-zero",
        _with(MINIMAL, ("policy.ladder", [{"route": "only", "min_score": 0.2}])),
        "policy.ladder.0.min_score: the first step is the floor and must be 0",
    ),
    (
        "unknown-task-label",
        _with(MINIMAL, ("policy.task_bias", {"cooking": 0.5})),
        "policy.task_bias.cooking: unknown task label",
    ),
    (
        "tier-source-both",
        _with(MINIMAL, ("tier_source", {"header": {"name": "x-tier"}, "metadata": {"namespace": "n", "path": ["t"]}})),
        "tier_source: give either metadata or header, not both",
    ),
    (
        "capture-without-store",
        _with(MINIMAL, ("store", {"capture": True})),
        "store.capture: content capture writes to the decision store's captured/ segments: set store.path too",
    ),
    (
        "jwt-without-key",
        _with(MINIMAL, ("envoy.jwt", {"issuer": "me"})),
        "envoy.jwt: give exactly one of jwks_file, jwks_inline, hmac_secret",
    ),
    (
        "jwt-with-two-keys",
        _with(MINIMAL, ("envoy.jwt", {"issuer": "me", "jwks_file": "/k.json", "hmac_secret": "s"})),
        "envoy.jwt: give exactly one of jwks_file, jwks_inline, hmac_secret",
    ),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_parse_config_reports_problem_with_its_path(data: dict[str, Any], expected: str) -> None:
    problems = _problems(data)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


LADDER_CASES = [
    ("decreasing", [0.0, 0.6, 0.4]),
    ("repeated", [0.0, 0.5, 0.5]),
]


@pytest.mark.parametrize("scores", [c[1] for c in LADDER_CASES], ids=[c[0] for c in LADDER_CASES])
def test_parse_config_ladder_must_strictly_increase(scores: list[float]) -> None:
    data = _with(
        VALID,
        ("routes.standard", {"chain": [{"cluster": "big", "model": "m"}]}),
        (
            "policy.ladder",
            [{"route": r, "min_score": s} for r, s in zip(["economy", "standard", "premium"], scores, strict=True)],
        ),
    )
    problems = _problems(data)
    assert any(p.startswith("policy.ladder: min_score must strictly increase") for p in problems), problems


def test_parse_config_ladder_route_twice() -> None:
    data = _with(VALID, ("policy.ladder", [{"route": "economy"}, {"route": "economy", "min_score": 0.5}]))
    assert "policy.ladder: a route appears twice" in _problems(data)


def test_parse_config_reports_every_structural_problem_at_once() -> None:
    data = _with(
        MINIMAL,
        ("clusters.local.address", "nowhere"),
        ("clusters.local.tls", "maybe"),
        ("routes.only.bogus", 1),
        ("tiers.default.timeout_ms", -5),
        ("policy.deadline_ms", 0),
        ("extra", True),
    )
    problems = _problems(data)
    prefixes = [
        "clusters.local.address:",
        "clusters.local.tls:",
        "routes.only.bogus: unknown key",
        "tiers.default.timeout_ms:",
        "policy.deadline_ms:",
        "extra: unknown key",
    ]
    assert len(problems) == len(prefixes), problems
    for prefix in prefixes:
        assert any(p.startswith(prefix) for p in problems), (prefix, problems)


def test_parse_config_reports_every_cross_reference_problem_at_once() -> None:
    data = _with(
        VALID,
        ("routes.economy.chain", [{"cluster": "small", "model": "s"}, {"cluster": "ghost", "model": "g"}]),
        ("default_route", "nowhere"),
        ("tiers.pro.routes", ["economy", "platinum"]),
        ("policy.ladder", [{"route": "economy", "min_score": 0.1}, {"route": "premium", "min_score": 0.05}]),
        ("policy.task_bias", {"code": 1.0, "poetry": 0.2}),
        ("kill_switch", {"route": "nowhere", "tiers": ["gold"]}),
        ("tier_source.header", {"name": "x-tier"}),
        ("envoy", {"jwt": {"issuer": "me"}}),
    )
    problems = _problems(data)
    prefixes = [
        "routes.economy.chain.1.cluster: unknown cluster 'ghost'",
        "default_route: unknown route 'nowhere'",
        "tiers.pro.routes.1: unknown route 'platinum'",
        "policy.ladder: min_score must strictly increase",
        "policy.ladder.0.min_score: the first step is the floor",
        "policy.task_bias.poetry: unknown task label",
        "kill_switch.route: unknown route 'nowhere'",
        "kill_switch.tiers.0: unknown tier 'gold'",
        "tier_source: give either metadata or header",
        "envoy.jwt: give exactly one of",
    ]
    assert len(problems) == len(prefixes), problems
    for prefix in prefixes:
        assert any(p.startswith(prefix) for p in problems), (prefix, problems)


def test_config_error_message_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_with(MINIMAL, ("default_route", "a"), ("policy.task_bias", {"b": 1})), source="my.yaml")
    text = str(info.value)
    assert text.startswith("my.yaml: 2 problems")
    for problem in info.value.problems:
        assert f"  - {problem}" in text
    assert info.value.source == "my.yaml"


@pytest.mark.parametrize("data", [[1, 2], "routes: {}", None, 42], ids=["list", "string", "empty-document", "number"])
def test_parse_config_top_level_must_be_a_mapping(data: Any) -> None:
    assert _problems(data) == ("(top level): expected a mapping of settings",)


@pytest.mark.parametrize("address", ["127.0.0.1:65536", "api.example.com:99999"], ids=["ip", "dns"])
def test_parse_config_rejects_out_of_range_port(address: str) -> None:
    problems = _problems(_with(MINIMAL, ("clusters.local.address", address)))
    assert problems[0].startswith("clusters.local.address:")


# -- files ----------------------------------------------------------------------------------------


def test_load_config_missing_file_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert info.value.problems == ("no such file",)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"version: 1\nrouting: caf\xe9\n", "line 2: not UTF-8 (byte 0xe9"),
        (b"\xff\xfeversion: 1\n", "line 1: not UTF-8"),
        (b"a: " + b"[" * 3000 + b"]" * 3000 + b"\n", "nested too deeply"),
        (b"routes: [unclosed\n", "not valid YAML"),
    ],
    ids=["latin-1-byte", "utf-16-bom", "nested-3000-deep", "yaml-error"],
)
def test_load_config_every_bad_file_is_a_config_error_naming_it(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "triage.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert expected in info.value.problems[0]
    assert "<unicode string>" not in str(info.value)


def test_load_config_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.problems[0].startswith("cannot read:")


def test_load_config_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("routes: [unclosed\n  - : :\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("not valid YAML:")


def test_load_config_yaml_list_at_top_level(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- routes\n- clusters\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ("(top level): expected a mapping of settings",)


def test_load_config_reports_the_file_as_source(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(_with(MINIMAL, ("default_route", "x"))), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert str(info.value).startswith(f"{path}: line 4: default_route")  # one problem: one line, with its line


# -- triage check-config --------------------------------------------------------------------------


def test_cli_check_config_good_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "triage.yaml"
    path.write_text(default_config_text(), encoding="utf-8")
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "OK" in out
    assert str(path) in out
    assert "invalid" not in err


def test_cli_check_config_minimal_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "min.yaml"
    path.write_text(yaml.safe_dump(MINIMAL), encoding="utf-8")
    assert main(["check-config", str(path)]) == 0
    assert "OK" in capsys.readouterr().out


def test_cli_check_config_bad_file_lists_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _with(
        VALID,
        ("default_route", "nowhere"),
        ("tiers.pro.routes", ["ghost"]),
        ("policy.task_bias", {"poetry": 1.0}),
    )
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "OK" not in out
    assert "3 problems" in err
    for fragment in (
        "default_route: unknown route 'nowhere'",
        "tiers.pro.routes.0: unknown route 'ghost'",
        "policy.task_bias.poetry",
    ):
        assert fragment in err


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "c.yaml: no such file\n"), ("a: [b\n", "not valid YAML"), ("- x\n", "expected a mapping")],
    ids=["missing-file", "invalid-yaml", "top-level-list"],
)
def test_cli_check_config_unloadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, fragment: str
) -> None:
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["check-config", str(path)]) == 1
    assert fragment in capsys.readouterr().err


def test_parse_config_rejects_a_per_try_timeout_that_leaves_no_room_to_fail_over() -> None:
    data = yaml.safe_load(default_config_text())
    data["tiers"]["free"]["per_try_timeout_ms"] = data["tiers"]["free"]["timeout_ms"]
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert any(p.startswith("tiers.free.per_try_timeout_ms:") and "fail" in p for p in info.value.problems)


def test_parse_config_without_tiers_allows_every_route_on_the_default_tier() -> None:
    cfg = parse_config(_with(MINIMAL, ("tiers", ...)))
    name, tier = cfg.tier("anything")
    assert name == cfg.default_tier
    assert tier.routes == list(cfg.routes)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            ("tiers.default.exclude_clusters", ["local"]),
            "tiers.default.exclude_clusters: leaves route 'only' with no step",
            id="exclusion-empties-a-route",
        ),
        pytest.param(
            ("tiers.default.prefer_clusters", ["ghost"]),
            "tiers.default.prefer_clusters.0: unknown cluster 'ghost'",
            id="unknown-preferred-cluster",
        ),
        pytest.param(("retries.retriable_status_codes", [429, 400]), "retries.retriable_status_codes", id="retry-400"),
        pytest.param(
            ("routes.only.chain", [{"cluster": "local", "model": 'bad"name'}]),
            "routes.only.chain.0.model",
            id="quote-in-model",
        ),
    ],
)
def test_parse_config_rejects_failover_mistakes(edit: tuple[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_with(MINIMAL, edit))
    assert any(expected in problem for problem in info.value.problems), info.value.problems


def test_check_config_reports_type_errors_unknown_keys_and_references_in_one_run_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "triage.yaml"
    path.write_text(
        "version: 1\n"
        "clusters:\n"
        '  small: {address: "127.0.0.1:18001"}\n'
        "routes:\n"
        "  economy:\n"
        "    chain:\n"
        "      - {cluster: smal, model: m}\n"
        '    price: {input_per_mtok: "cheap", output_per_mtok: 1}\n'
        "default_route: economy\n"
        "tiers:\n"
        "  free: {routes: [economy, premium], timout_ms: 3000}\n"
        "policy:\n"
        "  ladder:\n"
        "    - {route: economy}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    assert len(problems) == 4
    assert "line 8: routes.economy.price.input_per_mtok:" in problems[0]
    assert "line 11: tiers.free.timout_ms: unknown key; did you mean 'timeout_ms'?" in problems
    assert "line 7: routes.economy.chain.0.cluster: unknown cluster 'smal' (clusters: small)" in problems
    assert any(p.startswith("line 11: tiers.free.routes.1: unknown route 'premium'") for p in problems)
