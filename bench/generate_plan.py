#!/usr/bin/env python3
"""Writes a synthetic .mig plan with N steps for the benchmarks, and
optionally the same step graph as a build.ninja.

The steps are spread over the seven phases; inside each phase they form
chains of 8 linked by `after` (so the graph has both depth and width), and
(unless --plain) half of them interpolate an endpoint field. The plan lints
clean. The build.ninja has one edge per step running the same command, the
same `after` dependencies, and one phony edge per phase standing for the
phase barrier.

usage: generate_plan.py STEPS OUT.mig [--command CMD] [--plain] [--ninja OUT.ninja]
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
    parser.add_argument("--plain", action="store_true",
                        help="no endpoints, secrets, ACLs or windows: steps only (run benchmarks)")
    parser.add_argument("--ninja", metavar="BUILD_NINJA",
                        help="also write the same graph as a build.ninja")
    args = parser.parse_args()

    per_phase = [args.steps // len(PHASES)] * len(PHASES)
    for i in range(args.steps % len(PHASES)):
        per_phase[i] += 1

    out = []
    w = out.append
    if not args.plain:
        w('import "std/postgres"')
        w('import "std/acl"')
        w("")
    w("plan bench_%d {" % args.steps)
    w('  title  "synthetic plan with %d steps"' % args.steps)
    w("  retain 72h")
    if not args.plain:
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
    w("    days     [mon, tue, wed, thu, fri, sat, sun]")
    w('    start    "00:00"')
    w("    length   24h")
    w('    timezone "UTC"')
    w("  }")

    ninja = ["rule run", "  command = $cmd", ""]
    previous_phase = None
    n = 0
    for phase, count in zip(PHASES, per_phase):
        w("")
        w("  phase %s {" % phase)
        if phase == "switchover":
            w("    window night")
        phase_steps = []
        if phase == "testing" and not args.plain:
            w("    step acl_check = acl.verify(target: new_db)")
            w("    step parity    = postgres.compare(a: old_db, b: new_db)")
            count -= 2
        for i in range(count):
            name = "s%d" % n
            arg = " ${old_db.host}" if (n % 2 and not args.plain) else ""
            w("    step %s {" % name)
            w('      do   sh("%s%s")' % (args.command, arg))
            if phase in ("migration", "switchover"):
                w('      undo sh("%s")' % args.command)
            deps = []
            if i % 8:
                w("      after s%d" % (n - 1))
                deps.append("s%d" % (n - 1))
            elif previous_phase:
                deps.append(previous_phase)
            w("    }")
            ninja.append("build %s: run %s" % (name, " ".join(deps)))
            ninja.append("  cmd = %s" % args.command)
            phase_steps.append(name)
            n += 1
        w("  }")
        barrier = "phase_" + phase
        ninja.append("build %s: phony %s" % (barrier, " ".join(phase_steps)))
        previous_phase = barrier
    w("}")
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")
    if args.ninja:
        ninja.append("default %s" % previous_phase)
        with open(args.ninja, "w") as f:
            f.write("\n".join(ninja) + "\n")


if __name__ == "__main__":
    main()
