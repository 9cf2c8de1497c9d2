"""The `analyze` step: evaluate an analysis every interval while the canary serves traffic."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from rollgate.analysis.analyzer import Analyzer, Verdict
from rollgate.analysis.rules import expand
from rollgate.checks.health import probe
from rollgate.demo.load import LoadLoop
from rollgate.engine.actions import ActionContext, action
from rollgate.errors import CheckFailed, RollgateError, TargetError
from rollgate.metrics.base import MetricSource
from rollgate.metrics.factory import source_for
from rollgate.metrics.probe import ProbeSource
from rollgate.spec.durations import format_duration
from rollgate.store import checks as check_store

# Every evaluation is stored while it is interesting (a fail, a change of verdict), and at
# least every this many evaluations, so a long analysis stays readable and small.
KEEP_EVERY = 10


@action("analyze")
def analyze(ctx: ActionContext, analysis: str, seconds: float, canary: str,
            baseline: str | None, probe_traffic: bool = False) -> dict[str, Any]:
    """Run ``analysis`` for ``seconds``; raise CheckFailed quoting the failing check."""
    if probe_traffic and baseline:
        with _probes(ctx, [canary, baseline]) as loops:
            return _run(ctx, analysis, seconds, canary, baseline, ProbeSource(loops))
    env = ctx.spec.environments[ctx.run.environment]
    admin = ctx.target.proxy_admin_url()
    if admin is None:
        raise TargetError("the proxy is not running; analysis has no traffic to read")
    source = source_for(env.metrics, service=ctx.run.service, proxy_admin_url=admin)
    return _run(ctx, analysis, seconds, canary, baseline, source)


@contextmanager
def _probes(ctx: ActionContext, versions: list[str]) -> Iterator[dict[str, LoadLoop]]:
    """One bounded load loop per version, straight to its first live instance."""
    strategy = ctx.spec.environments[ctx.run.environment].strategy
    path = getattr(strategy, "probe_path", "/")
    rate = float(getattr(strategy, "probe_rate", 20.0))
    loops: dict[str, LoadLoop] = {}
    try:
        for version in versions:
            instance = next((i for i in ctx.target.instances(version) if i.alive), None)
            if instance is None:
                raise TargetError(f"no running instance of {version} to probe")
            loops[version] = LoadLoop(instance.url + path, rate=rate, concurrency=2,
                                      max_seconds=24 * 3600.0).start()
        yield loops
    finally:
        for loop in loops.values():
            loop.stop()


def _run(ctx: ActionContext, analysis: str, seconds: float, canary: str,
         baseline: str | None, source: MetricSource) -> dict[str, Any]:
    config = ctx.spec.analyses[analysis]
    analyzer = Analyzer(config)
    probes_health = any(expand(rule).metric == "health" for rule in config.rules)
    started = time.monotonic()
    last: dict[str, str] = {}
    evaluations = 0
    verdict: Verdict | None = None
    while True:
        time.sleep(config.interval)
        if ctx.cancel_requested():
            raise RollgateError("cancelled during analysis")
        now = time.monotonic() - started
        span = max(analyzer.lookback(now), config.interval)
        observed = source.window(canary, span)
        if probes_health:
            observed = replace(observed, extra={**observed.extra,
                                                "health": _health(ctx, canary)})
        verdict = analyzer.evaluate(
            now, observed, source.window(baseline, span) if baseline else None,
        )
        evaluations += 1
        _keep(ctx, analysis, verdict, last, evaluations)
        if verdict.verdict == "fail":
            ctx.say(f"{analysis}: FAIL after {format_duration(round(now, 1))}: {verdict.reason}")
            raise CheckFailed(f"analysis {analysis} failed: {verdict.reason}")
        if verdict.verdict == "inconclusive" and config.inconclusive.action == "pause":
            ctx.say(f"{analysis}: inconclusive, rollout paused: {verdict.reason}")
            return {"verdict": "inconclusive", "paused": verdict.reason,
                    "evaluations": evaluations}
        if now >= seconds:
            break
    assert verdict is not None
    score = f", score {verdict.score:.0f}" if verdict.score is not None else ""
    ctx.say(f"{analysis}: {verdict.verdict} after {evaluations} evaluations{score}")
    for record in verdict.records:
        ctx.say(f"  {record.verdict:<12} {record.summary}")
    return {"verdict": verdict.verdict, "evaluations": evaluations, "score": verdict.score}


def _health(ctx: ActionContext, version: str) -> float:
    """1.0 when every instance of ``version`` passes its health check now, else 0.0."""
    instances = [i for i in ctx.target.instances(version) if i.alive]
    healthy = instances and all(probe(i.url, ctx.target.svc.health).ok for i in instances)
    return 1.0 if healthy else 0.0


def _keep(ctx: ActionContext, analysis: str, verdict: Verdict, last: dict[str, str],
          evaluations: int) -> None:
    """Store the records worth keeping: changes, failures, and a periodic sample."""
    keep = []
    for record in verdict.records:
        changed = last.get(record.name) != record.verdict
        if changed or record.verdict == "fail" or evaluations % KEEP_EVERY == 0:
            keep.append(record.to_dict())
        last[record.name] = record.verdict
    if keep:
        with ctx.db.session() as s:
            check_store.record(session=s, run_id=ctx.run.id, seq=ctx.seq, analysis=analysis,
                               checks=keep)
