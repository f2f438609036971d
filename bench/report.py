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
CEILING = "c-epoll"  # the bare C epoll echo server: the harness ceiling (ping-pong scenarios only)
IDLE = ("idle10k", "deflate-idle1k")
NOISY_CPU = float(os.environ.get("BENCH_NOISY_CPU", "0.15"))
SERVER_LABEL = {
    "fiberws": "fiberws (blocking handler)",
    "fiberws-events": "fiberws (event API)",
    "gorilla": "gorilla/websocket (Go)",
    "kestrel": "Kestrel (ASP.NET Core)",
    "node": "Node ws",
    "c-epoll": "bare C epoll echo (harness ceiling)",
}


def title(scen, idle_conns, conns=None):
    if scen.startswith("pp"):
        c, s = scen[2:].split("-")
        size = {"32": "32 B", "1k": "1 KiB", "16k": "16 KiB", "64k": "64 KiB"}[s]
        return f"Ping-pong, {int(c):,} connection{'s' if c != '1' else ''}, {size}"
    return {
        "1mib": "1 MiB messages, 1 connection (ping-pong)",
        "pipeline": "Pipelined: 64 connections x 16 in flight x 128 B",
        "handshake": "Handshakes: 50 concurrent clients (connect, handshake, one 32 B echo, close)",
        "idle10k": f"{idle_conns:,} idle connections: server memory",
        "deflate64-16k": "Compressed echo: 64 connections x 16 KiB JSON-like text, permessage-deflate",
        "deflate-idle1k": f"{conns or 1000:,} idle compressed connections: server memory",
        "broadcast10k": f"Broadcast: one publisher, {conns or 10000:,} receivers, 128 B messages",
    }.get(scen, scen)


SCEN_TEXT = {
    "deflate64-16k":
        "Ping-pong on 64 connections with permessage-deflate: each message is 16 KiB of JSON-like text (an array of "
        "objects with repeated keys and varying numbers, generated from the message's sequence number), compressed by "
        "the load generator (zlib level 6, Z_SYNC_FLUSH, context takeover unless the server declines it) and inflated "
        "and verified byte for byte on the way back. Server settings: fiberws `--compress` (level 1, context takeover), "
        "gorilla `EnableCompression` (level 1; gorilla always negotiates no context takeover in both directions), "
        "Kestrel `DangerousEnableCompression` (zlib's default level 6, context takeover), Node ws "
        "`perMessageDeflate: true` (zlib's default level 6, context takeover). *ctx* = context takeover "
        "server→client / client→server as negotiated; *wire* = compressed ÷ inflated size of the echoes received.",
    "deflate-idle1k":
        "Like the idle scenario, with permessage-deflate negotiated and one 2 KiB compressed JSON-like message echoed "
        "on every connection before it idles (so the server holds its per-connection deflate state): server RSS "
        "growth ÷ connections.",
    "broadcast10k":
        "10,000 receivers on `/echo` (each subscribed to one topic: fiberws `fws_conn_subscribe` + `fws_app_publish`; "
        "gorilla a hub with one writer goroutine and buffered channel per connection, as in its chat example; Kestrel "
        "the same with a bounded channel and a writer task per connection; Node `wss.clients.forEach(send)`) and one "
        "publisher connection on `/publish` that sends 128 B binary messages, keeping at most 16 publishes not yet "
        "delivered to every receiver (as fast as the server delivers). Every receiver verifies every message (sequence "
        "and content). msgs/s = messages delivered per second over all receivers (= receivers × publishes/s); gaps = "
        "messages a receiver never got (dropped by the server); softirq = CPU time the kernel spent in softirqs "
        "(TCP over loopback for 10,000 sockets, partly on the server's core) ÷ wall time; most of it runs while "
        "both processes sleep and is charged to neither, so it is not counted as noise here; connect time = opening "
        "the 10,001 connections. The blocking fiberws API has no topics (n/a).",
}



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
    ceiling = CEILING in servers and "fiberws-events" in servers

    def scen_conns(scen):
        for (sc, _), runs in cells.items():
            if sc == scen:
                for r in runs:
                    if r.get("conns"):
                        return int(r["conns"])
        return None

    nproc, model, kernel, mem = machine_info()
    o = []
    o.append("# fiberws benchmark results\n")
    o.append(f"Generated by `./build.sh bench` (`bench/run.sh`) on {meta.get('date', '?')}.\n")
    if meta.get("quick") == "1":
        o.append("**Quick run (`BENCH_QUICK=1`): short runs, one repetition each — a smoke test, indicative only.**\n")
    o.append(f"- **Machine:** {nproc} CPUs (`nproc`), {model}, Linux {kernel}, {mem} RAM")
    o.append(f"- **Method:** every server pinned to one core and the load generator (`bench/loadgen.c`, single-threaded C "
             f"+ epoll) to another ({meta.get('pinned', '?')}); each server is started fresh for each run, and the repetitions of a throughput scenario are interleaved across servers (run 1 of every server, then run 2...) so that the VM's speed drifts hit all alike; "
             f"{meta.get('duration', '?')} s measured after {meta.get('warmup', '?')} s of warm-up per run, "
             f"median of {meta.get('reps', '?')} run(s) by msgs/s; "
             f"{'binary' if meta.get('binary') == '1' else 'text'} messages, masked with a fresh key per frame; every "
             f"echo is verified byte for byte (a mismatch or protocol error fails the cell).")
    o.append(f"- **Versions:** fiberws {meta.get('fiberws', '?')}; Go {meta.get('go', '?')} with gorilla/websocket "
             f"{meta.get('gorilla', '?')} (GOMAXPROCS=1); ASP.NET Core {meta.get('dotnet', '?')} (workstation GC); "
             f"Node {meta.get('node', '?')} with ws {meta.get('ws', '?')}; zlib {meta.get('zlib', '?')} "
             f"(load generator)")
    o.append("- **Columns:** msgs/s = echoed messages per second over all connections; MB/s = echoed payload per second "
             "in one direction (10^6 B); latency = from queueing a message to receiving its complete echo (handshakes: "
             "the whole open–echo–close cycle); srv CPU = the server's CPU time ÷ wall time over the run (1.00 = its core "
             "is saturated); lg CPU = the same for the load generator; a run during which other processes (or VM "
             "steal) used more than 0.15 cores is noisy (for the broadcast, softirq time is not counted: see there): run.sh repeats it (up to twice per cell) and the median is taken "
             "over the quiet runs, or over all runs (flagged) if none was quiet; spread = (max − min) ÷ median of the runs' msgs/s; "
             "**fiberws ÷ this** = fiberws msgs/s ÷ this server's msgs/s, measured in the same run (> 1: fiberws is faster).\n")

    # summary
    if fws and (peers or ceiling):
        o.append("## Summary: fiberws ÷ peer\n")
        o.append("Throughput ratio (> 1: fiberws faster); for idle connections the ratio of memory per connection "
                 "(< 1: fiberws smaller); for the broadcast the ratio of messages delivered per second.")
        if ceiling:
            o.append("The last column compares the event API with a bare single-threaded C epoll echo server "
                     "(`bench/peers/c-epoll`, ping-pong scenarios only): how close fiberws gets to what this harness "
                     "can measure (target: ≥ 0.95 for 64 × 32 B).")
        o.append("")
        pairs = [(f, p) for f in fws for p in peers]
        if ceiling:
            pairs.append(("fiberws-events", CEILING))
        hdr = ["scenario"] + [f"{f} ÷ {p}" for f, p in pairs]
        o.append("| " + " | ".join(hdr) + " |")
        o.append("|" + "---|" * len(hdr))
        for s in scenarios:
            key = "kb_per_conn" if s in IDLE else "msgs_per_s"
            line = [title(s, idle_conns, scen_conns(s))]
            for f, p in pairs:
                a, b = summ.get((s, f)), summ.get((s, p))
                if a and a["status"] == "na":
                    line.append("n/a")
                else:
                    line.append(ratio_text(metric(a, key), metric(b, key)))
            o.append("| " + " | ".join(line) + " |")
        o.append("")

    for s in scenarios:
        nconns = scen_conns(s)
        o.append(f"## {title(s, idle_conns, nconns)}\n")
        if s in SCEN_TEXT:
            o.append(SCEN_TEXT[s] + "\n")
        if s == "broadcast10k":
            hdr = ["server", "delivered msgs/s", "publishes/s", "MB/s", "gaps", "srv CPU", "lg CPU", "softirq",
                   "peak RSS", "connect time"] + [f"{f} ÷ this" for f in fws] + ["spread", "notes"]
            o.append("| " + " | ".join(hdr) + " |")
            o.append("|" + "---|" * len(hdr))
            for v in servers:
                cs = summ.get((s, v))
                if cs is None and v == CEILING:
                    continue
                name = SERVER_LABEL.get(v, v)
                if not cs or cs["status"] != "ok":
                    o.append(f"| {name} | " + " | ".join(["–"] * (len(hdr) - 3)) + f" | – | {status_text(cs)} |")
                    continue
                r = cs["row"]
                notes = []
                if float(r.get("lg_cpu", 0)) > 0.9:
                    notes.append("load generator near saturation")
                if float(r.get("other_cpu", 0) or 0) > NOISY_CPU:
                    notes.append(f"noisy: other processes used {float(r['other_cpu']):.2f} cores")
                if cs["all"] > cs["n"]:
                    notes.append(f"median of the {cs['n']} quiet runs of {cs['all']}")
                line = [name, fnum(float(r["msgs_per_s"])), fnum(float(r.get("pub_per_s", 0) or 0)),
                        fnum(float(r["mb_per_s"]), 1), fnum(float(r.get("gaps", 0) or 0)),
                        r.get("srv_cpu", "?"), r.get("lg_cpu", "?"), r.get("softirq_cpu", "–"),
                        f"{int(r.get('peak_rss_kb', 0) or 0) / 1024:.0f} MiB",
                        f"{float(r.get('connect_ms', 0) or 0) / 1000:.2f} s"]
                for f in fws:
                    line.append("–" if f == v else ratio_text(metric(summ.get((s, f)), "msgs_per_s"), metric(cs, "msgs_per_s")))
                line.append(f"{cs['spread']:.0f}%" if cs.get("spread") is not None else "–")
                line.append("; ".join(notes))
                o.append("| " + " | ".join(line) + " |")
            o.append("")
            continue
        if s in IDLE:
            n_idle = nconns or idle_conns
            hdr = ["server", "RSS before", f"RSS with {n_idle:,}", "KiB / connection", "threads", "connect time"] + \
                  [f"{f} ÷ this" for f in fws] + ["notes"]
            o.append("| " + " | ".join(hdr) + " |")
            o.append("|" + "---|" * len(hdr))
            for v in servers:
                cs = summ.get((s, v))
                if cs is None and v == CEILING:
                    continue
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
            if cs is None and v == CEILING:
                continue
            name = SERVER_LABEL.get(v, v)
            if not cs or cs["status"] != "ok":
                o.append(f"| {name} | " + " | ".join(["–"] * (len(hdr) - 3)) + f" | – | {status_text(cs)} |")
                continue
            r = cs["row"]
            notes = []
            if r.get("deflate") == "1":
                notes.append(f"ctx {'on' if r.get('pmd_server_ctx') == '1' else 'off'}/"
                             f"{'on' if r.get('pmd_client_ctx') == '1' else 'off'}, "
                             f"wire {float(r.get('wire_ratio', 0) or 0) * 100:.0f}%")
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
