#!/usr/bin/env python3
"""Renders the figures the reliability tests recorded into docs/RELIABILITY.md.

    scripts/reliability-figures.py            # render from artifacts/figures.jsonl (written by ./test.sh)
    scripts/reliability-figures.py --run      # first run the reliability suites alone (after a build), then render

Each test calls Hoard.Testing.Figures.Record(suite, figure, value); with HOARD_FIGURES set, that appends one
JSON line. The last value of each (suite, figure) wins. The table between the two markers in the document is
replaced; nothing else in it is touched.
"""
import json, os, subprocess, sys, datetime, platform

here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
doc = os.path.join(here, "docs", "RELIABILITY.md")
figures = os.path.join(here, "artifacts", "figures.jsonl")
begin, end = "<!-- figures:begin (scripts/reliability-figures.py) -->", "<!-- figures:end -->"
suites = "ResilienceTests|CrashSuiteTests|ClusterCrashTests|EngineFaultTests|TokenLifetimeTests|QuotaTests|RateLimitTests|IsolationTests|HostileInputTests|SecretScanTests"


def run():
    if os.path.exists(figures):
        os.remove(figures)
    env = dict(os.environ, HOARD_FIGURES=figures, HOARD_BIN=os.path.join(here, "artifacts", "bin", "hoard"))
    filt = "|".join(f"FullyQualifiedName~{s}" for s in suites.split("|"))
    subprocess.run(["dotnet", "test", os.path.join(here, "tests", "Hoard.Cli.Tests"), "-c", "Release", "--no-build",
                    "--filter", filt], env=env, check=True)


def machine():
    try:
        cpus = os.cpu_count()
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        return f"{platform.system()} {platform.release()}, {cpus} cores, {mem:.0f} GiB"
    except (ValueError, OSError):
        return platform.platform()


def render():
    if not os.path.exists(figures):
        sys.exit(f"{figures} does not exist: run ./test.sh (or this script with --run) first")
    last = {}
    for line in open(figures, encoding="utf-8"):
        line = line.strip()
        if line:
            r = json.loads(line)
            last[(r["suite"], r["figure"])] = r
    if not last:
        sys.exit(f"{figures} holds no figures")
    newest = max(r["at"] for r in last.values())[:16].replace("T", " ")
    rows = [f"Measured {newest} UTC on {machine()}, by `scripts/reliability-figures.py` from the tests' own records.", "",
            "| suite | figure | value |", "| --- | --- | --- |"]
    for (suite, figure), r in sorted(last.items()):
        v = r["value"]
        if figure == "seed" or figure.endswith(" seed"):
            v = str(v)  # an identifier to replay with, not a quantity
        elif isinstance(v, float):
            v = f"{v:,}"
        elif isinstance(v, int):
            v = f"{v:,}"
        elif not isinstance(v, str):
            v = json.dumps(v)
        rows.append(f"| {suite} | {figure} | {v} |")
    text = open(doc, encoding="utf-8").read()
    if begin not in text or end not in text:
        sys.exit(f"{doc} has no {begin} … {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + "\n".join(rows) + "\n" + end + tail


if __name__ == "__main__":
    if "--run" in sys.argv:
        run()
    new = render()
    open(doc, "w", encoding="utf-8").write(new)
    print(f"rendered {doc}")
