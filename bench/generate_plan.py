#!/usr/bin/env python3
"""Writes a synthetic .mig plan with N steps for the benchmarks.

The steps are spread over the seven phases; inside each phase they form
chains of 8 linked by `after` (so the graph has both depth and width), and
half of them interpolate an endpoint field. The plan lints clean.

usage: generate_plan.py STEPS OUT.mig [--command CMD]
"""
import argparse

PHASES = ["preparation", "migration", "testing", "switchover",
          "verification", "recovery", "optimizations"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("steps", type=int)
    parser.add_argument("out")
    parser.add_argument("--command", default="true",
                        help="the shell command every step runs")
    args = parser.parse_args()

    per_phase = [args.steps // len(PHASES)] * len(PHASES)
    for i in range(args.steps % len(PHASES)):
        per_phase[i] += 1

    out = []
    w = out.append
    w('import "std/postgres"')
    w('import "std/acl"')
    w("")
    w("plan bench_%d {" % args.steps)
    w('  title  "synthetic plan with %d steps"' % args.steps)
    w("  retain 72h")
    w("")
    w('  secret pw { from env("BENCH_PASSWORD") }')
    w("")
    w("  source old_db postgres {")
    w('    host     "10.0.0.5"')
    w('    database "app"')
    w("    password pw")
    w("  }")
    w("")
    w("  target new_db postgres {")
    w('    host     "10.0.0.6"')
    w('    database "app"')
    w("    password pw")
    w("  }")
    w("")
    w('  acl new_db { allow "10.1.0.0/24" "app servers" }')
    w("")
    w("  window night {")
    w("    days     [sat, sun]")
    w('    start    "01:00"')
    w("    length   6h")
    w('    timezone "UTC"')
    w("  }")
    n = 0
    for phase, count in zip(PHASES, per_phase):
        w("")
        w("  phase %s {" % phase)
        if phase == "switchover":
            w("    window night")
        if phase == "testing":
            w("    step acl_check = acl.verify(target: new_db)")
            w("    step parity    = postgres.compare(a: old_db, b: new_db)")
            count -= 2
        for i in range(count):
            name = "s%d" % n
            arg = " ${old_db.host}" if n % 2 else ""
            w("    step %s {" % name)
            w('      do   sh("%s%s")' % (args.command, arg))
            if phase in ("migration", "switchover"):
                w('      undo sh("%s")' % args.command)
            if i % 8:
                w("      after s%d" % (n - 1))
            w("    }")
            n += 1
        w("  }")
    w("}")
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
