#!/usr/bin/env python3
"""Turns build/bench/results.txt (one line per loadgen run, written by bench/run.sh) into bench/RESULTS.md.

usage: report.py RESULTS_TXT META_TXT OUT_MD IDLE_CONNS
"""
import os
import platform
import statistics
import sys

FIBERWS = ["fiberws", "fiberws-events"]
PEERS = ["gorilla", "kestrel", "node"]
NOISY_CPU = float(os.environ.get("BENCH_NOISY_CPU", "0.15"))
SERVER_LABEL = {
    "fiberws": "fiberws (blocking handler)",
    "fiberws-events": "fiberws (event API)",
    "gorilla": "gorilla/websocket (Go)",
    "kestrel": "Kestrel (ASP.NET Core)",
    "node": "Node ws",
}


def title(scen, idle_conns):
    if scen.startswith("pp"):
        c, s = scen[2:].split("-")
        size = {"32": "32 B", "1k": "1 KiB", "64k": "64 KiB"}[s]
        return f"Ping-pong, {int(c):,} connection{'s' if c != '1' else ''}, {size}"
    return {
        "1mib": "1 MiB messages, 1 connection (ping-pong)",
        "pipeline": "Pipelined: 64 connections x 16 in flight x 128 B",
        "handshake": "Handshakes: 50 concurrent clients (connect, handshake, one 32 B echo, close)",
        "idle10k": f"{idle_conns:,} idle connections: server memory",
        "broadcast": "10,000 connections receiving a broadcast",
    }.get(scen, scen)


def parse(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            note = ""
            if " note=" in line:
                line, note = line.split(" note=", 1)
            elif line.startswith("note="):
                line, note = "", line[5:]
            kv = dict(p.split("=", 1) for p in line.split() if "=" in p)
            kv["note"] = note.strip()
            rows.append(kv)
    return rows


def fnum(x, digits=0):
    if x is None:
        return "–"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def cell_summary(runs):
    """runs: list of row dicts for one (scenario, server). Returns a dict with status and the median run."""
    if not runs:
        return None
    bad = [r for r in runs if r.get("status") != "ok"]
    if bad:
        r = bad[0]
        return {"status": r.get("status"), "note": r.get("note", ""), "row": r}
    # prefer the runs during which nothing else used the CPUs (run.sh repeats noisy runs)
    quiet = [r for r in runs if float(r.get("other_cpu", 0) or 0) <= NOISY_CPU]
    ok = sorted(quiet or runs, key=lambda r: float(r.get("msgs_per_s", 0)))
    med = ok[len(ok) // 2] if len(ok) % 2 == 1 else ok[len(ok) // 2 - 1]
    rates = [float(r.get("msgs_per_s", 0)) for r in ok]
    spread = None
    if len(rates) > 1 and statistics.median(rates) > 0:
        spread = (max(rates) - min(rates)) / statistics.median(rates) * 100
    return {"status": "ok", "row": med, "n": len(ok), "spread": spread, "rates": rates, "all": len(runs)}


def status_text(cs):
    if cs is None:
        return "not run"
    if cs["status"] == "na":
        return "n/a (not available)" if cs["note"] in ("", "not available") else f"n/a ({cs['note']})"
    if cs["status"] == "todo":
        return cs["note"] or "TODO"
    return "FAIL: " + (cs["note"] or "error")


def metric(cs, key):
    if not cs or cs["status"] != "ok":
        return None
    v = cs["row"].get(key)
    return float(v) if v not in (None, "") else None


def ratio_text(a, b):
    if a is None or b is None or b == 0:
        return "–"
    r = a / b
    return f"{r:.2f}x"


def machine_info():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    return os.cpu_count(), model, platform.release(), mem


def main():
    raw, meta_path, out_md, idle_conns = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rows = parse(raw)
    meta = {}
    with open(meta_path) as f:
        for line in f:
            for part in line.split():
                if "=" in part:
                    k, v = part.split("=", 1)
                    meta[k] = v
            if line.startswith("date="):
                meta["date"] = line.strip()[5:]
    scenarios, servers = [], []
    cells = {}
    for r in rows:
        s, v = r.get("scenario"), r.get("server")
        if s not in scenarios:
            scenarios.append(s)
        if v not in servers:
            servers.append(v)
        cells.setdefault((s, v), []).append(r)
    summ = {k: cell_summary(v) for k, v in cells.items()}
    fws = [s for s in FIBERWS if s in servers]
    peers = [s for s in PEERS if s in servers]

    nproc, model, kernel, mem = machine_info()
    o = []
    o.append("# fiberws benchmark results\n")
    o.append(f"Generated by `./build.sh bench` (`bench/run.sh`) on {meta.get('date', '?')}.\n")
    if meta.get("quick") == "1":
        o.append("**Quick run (`BENCH_QUICK=1`): short runs, one repetition each — a smoke test, indicative only.**\n")
    o.append(f"- **Machine:** {nproc} CPUs (`nproc`), {model}, Linux {kernel}, {mem} RAM")
    o.append(f"- **Method:** every server pinned to one core and the load generator (`bench/loadgen.c`, single-threaded C "
             f"+ epoll) to another ({meta.get('pinned', '?')}); each server is started fresh for each scenario; "
             f"{meta.get('duration', '?')} s measured after {meta.get('warmup', '?')} s of warm-up per run, "
             f"median of {meta.get('reps', '?')} run(s) by msgs/s; "
             f"{'binary' if meta.get('binary') == '1' else 'text'} messages, masked with a fresh key per frame; every "
             f"echo is verified byte for byte (a mismatch or protocol error fails the cell).")
    o.append(f"- **Versions:** fiberws {meta.get('fiberws', '?')}; Go {meta.get('go', '?')} with gorilla/websocket "
             f"{meta.get('gorilla', '?')} (GOMAXPROCS=1); ASP.NET Core {meta.get('dotnet', '?')} (workstation GC); "
             f"Node {meta.get('node', '?')} with ws {meta.get('ws', '?')}")
    o.append("- **Columns:** msgs/s = echoed messages per second over all connections; MB/s = echoed payload per second "
             "in one direction (10^6 B); latency = from queueing a message to receiving its complete echo (handshakes: "
             "the whole open–echo–close cycle); srv CPU = the server's CPU time ÷ wall time over the run (1.00 = its core "
             "is saturated); lg CPU = the same for the load generator; a run during which other processes (or VM "
             "steal) used more than 0.15 cores is noisy: run.sh repeats it (up to twice per cell) and the median is taken "
             "over the quiet runs, or over all runs (flagged) if none was quiet; spread = (max − min) ÷ median of the runs' msgs/s; "
             "**fiberws ÷ this** = fiberws msgs/s ÷ this server's msgs/s, measured in the same run (> 1: fiberws is faster).\n")

    # summary
    if fws and peers:
        o.append("## Summary: fiberws ÷ peer\n")
        o.append("Throughput ratio (> 1: fiberws faster); for idle connections the ratio of memory per connection "
                 "(< 1: fiberws smaller).\n")
        hdr = ["scenario"] + [f"{f} ÷ {p}" for f in fws for p in peers]
        o.append("| " + " | ".join(hdr) + " |")
        o.append("|" + "---|" * len(hdr))
        for s in scenarios:
            if s == "broadcast":
                continue
            key = "kb_per_conn" if s == "idle10k" else "msgs_per_s"
            line = [title(s, idle_conns)]
            for f in fws:
                for p in peers:
                    a, b = summ.get((s, f)), summ.get((s, p))
                    if a and a["status"] == "na":
                        line.append("n/a")
                    else:
                        line.append(ratio_text(metric(a, key), metric(b, key)))
            o.append("| " + " | ".join(line) + " |")
        o.append("")

    for s in scenarios:
        o.append(f"## {title(s, idle_conns)}\n")
        if s == "broadcast":
            o.append("TODO: needs the event API's publish (see the `run_broadcast` hook in `bench/run.sh`; "
                     "`loadgen --mode receive` already verifies and counts broadcast messages).\n")
            continue
        if s == "idle10k":
            hdr = ["server", "RSS before", f"RSS with {idle_conns:,}", "KiB / connection", "threads", "connect time"] + \
                  [f"{f} ÷ this" for f in fws] + ["notes"]
            o.append("| " + " | ".join(hdr) + " |")
            o.append("|" + "---|" * len(hdr))
            for v in servers:
                cs = summ.get((s, v))
                name = SERVER_LABEL.get(v, v)
                if not cs or cs["status"] != "ok":
                    o.append(f"| {name} | " + " | ".join(["–"] * (len(hdr) - 2)) + f" | {status_text(cs)} |")
                    continue
                r = cs["row"]
                eof = int(r.get("eof_timeouts", "0") or 0)
                note = f"{eof:,} connections not closed by the server within 3 s of the close handshake" if eof else ""
                line = [name, f"{int(r['rss0_kb']) / 1024:.1f} MiB", f"{int(r['rss1_kb']) / 1024:.1f} MiB",
                        f"{float(r['kb_per_conn']):.1f}", r.get("threads", "?"),
                        f"{float(r.get('connect_ms', 0)) / 1000:.2f} s"]
                for f in fws:
                    line.append("–" if f == v else ratio_text(metric(summ.get((s, f)), "kb_per_conn"), metric(cs, "kb_per_conn")))
                line.append(note)
                o.append("| " + " | ".join(line) + " |")
            o.append("")
            continue
        hs = s == "handshake"
        hdr = ["server", "handshakes/s" if hs else "msgs/s", "MB/s", "p50 µs", "p99 µs", "p99.9 µs", "srv CPU",
               "lg CPU", "peak RSS"] + [f"{f} ÷ this" for f in fws] + ["spread", "notes"]
        o.append("| " + " | ".join(hdr) + " |")
        o.append("|" + "---|" * len(hdr))
        for v in servers:
            cs = summ.get((s, v))
            name = SERVER_LABEL.get(v, v)
            if not cs or cs["status"] != "ok":
                o.append(f"| {name} | " + " | ".join(["–"] * (len(hdr) - 3)) + f" | – | {status_text(cs)} |")
                continue
            r = cs["row"]
            notes = []
            eof = int(r.get("eof_timeouts", "0") or 0)
            if eof:
                notes.append(f"{eof:,} server TCP closes > 3 s late")
            if float(r.get("lg_cpu", 0)) > 0.9:
                notes.append("load generator near saturation")
            if float(r.get("other_cpu", 0) or 0) > NOISY_CPU:
                notes.append(f"noisy: other processes used {float(r['other_cpu']):.2f} cores")
            if cs["all"] > cs["n"]:
                notes.append(f"median of the {cs['n']} quiet runs of {cs['all']}")
            line = [name, fnum(float(r["msgs_per_s"])), "–" if hs else fnum(float(r["mb_per_s"]), 1),
                    fnum(float(r["p50_us"])), fnum(float(r["p99_us"])), fnum(float(r["p999_us"])),
                    r.get("srv_cpu", "?"), r.get("lg_cpu", "?"),
                    f"{int(r.get('peak_rss_kb', 0) or 0) / 1024:.0f} MiB"]
            for f in fws:
                line.append("–" if f == v else ratio_text(metric(summ.get((s, f)), "msgs_per_s"), metric(cs, "msgs_per_s")))
            line.append(f"{cs['spread']:.0f}%" if cs.get("spread") is not None else "–")
            line.append("; ".join(notes))
            o.append("| " + " | ".join(line) + " |")
        o.append("")
    with open(out_md, "w") as f:
        f.write("\n".join(o))


if __name__ == "__main__":
    main()
